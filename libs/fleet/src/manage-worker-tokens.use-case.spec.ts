import { type UpdateWorkerTokenInput, updateWorkerTokenSchema } from '@agentfleet/contracts';
import { ConflictError, type CredentialHasher, NotFoundError, type Principal } from '@agentfleet/domain';
import { FakeLiveness, InMemoryFleet } from './in-memory-fleet.fake';
import { ManageWorkerTokensUseCase } from './manage-worker-tokens.use-case';
import { PROVISIONED_WORKER_TOKEN_CREATOR } from './provision-worker-token.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const OTHER_ORG = '00000000-0000-4000-8000-000000000002';

const operator = (organizationId = ORG): Principal => ({
  kind: 'api_key',
  apiKeyId: '00000000-0000-4000-8000-0000000000aa',
  organizationId,
  userId: null,
  role: 'operator',
  scopes: ['worker-tokens:read', 'worker-tokens:write'],
  instanceAdmin: false,
});

const hasher = {} as CredentialHasher; // issuing is not part of these cases
const change = (body: Record<string, unknown>): UpdateWorkerTokenInput => updateWorkerTokenSchema.parse(body);

async function setup(createdBy: string | null = 'api_key:x') {
  const fleet = new InMemoryFleet();
  const liveness = new FakeLiveness();
  const uc = new ManageWorkerTokensUseCase(fleet, hasher, liveness, { now: () => new Date() });
  const token = await fleet.repos.workerTokens.create({
    organizationId: ORG,
    name: 'gpu-workers',
    prefix: 'p1',
    tokenHash: 'h1',
    labels: { zone: 'a' },
    capabilities: ['execute'],
    maxConcurrentTasks: 2,
    pools: ['default'],
    createdBy,
    expiresAt: null,
  });
  return { fleet, liveness, uc, token };
}

/** A worker of the token registered with its current settings (online unless said otherwise). */
async function workerOf(fleet: InMemoryFleet, tokenId: string, instanceId: string) {
  return fleet.repos.workers.upsertRegistration({
    organizationId: ORG,
    tokenId,
    instanceId,
    hostname: 'h',
    version: '1',
    protocolVersion: 1,
    labels: { zone: 'a' },
    capabilities: ['execute'],
    pools: ['default'],
    capacity: { memory_mb: 1024, cpus: 1, runtimes: ['process'] },
    concurrency: 2,
    registeredAt: new Date(),
  });
}

describe('ManageWorkerTokensUseCase.update', () => {
  it('changes only the settings given and audits each change with its old and new value', async () => {
    const { fleet, uc, token } = await setup();
    const view = await uc.update(
      operator(),
      token.id,
      change({ pools: ['default', 'gpu'], max_concurrent_tasks: 8 }),
      '10.0.0.1',
    );
    expect(view).toMatchObject({
      name: 'gpu-workers',
      labels: { zone: 'a' },
      capabilities: ['execute'],
      pools: ['default', 'gpu'],
      max_concurrent_tasks: 8,
    });
    expect(fleet.tokens.get(token.id)).toMatchObject({ pools: ['default', 'gpu'], maxConcurrentTasks: 8 });
    expect(fleet.audit).toEqual([
      expect.objectContaining({
        action: 'worker_token.updated',
        resourceType: 'worker_token',
        resourceId: token.id,
        details: {
          changes: {
            pools: { from: ['default'], to: ['default', 'gpu'] },
            max_concurrent_tasks: { from: 2, to: 8 },
          },
        },
      }),
    ]);
  });

  it('replaces the labels whole and renames', async () => {
    const { fleet, uc, token } = await setup();
    await uc.update(
      operator(),
      token.id,
      change({ labels: { zone: 'b', gpu: 'a100' }, name: 'renamed' }),
      null,
    );
    expect(fleet.tokens.get(token.id)).toMatchObject({ labels: { zone: 'b', gpu: 'a100' }, name: 'renamed' });
  });

  it('writes and audits nothing when the values given are the stored ones (lists compared as sets)', async () => {
    const { fleet, uc, token } = await setup();
    await fleet.repos.workerTokens.updateSettings(ORG, token.id, {
      name: 'gpu-workers',
      labels: { zone: 'a' },
      capabilities: ['execute', 'ingest'],
      maxConcurrentTasks: 2,
      pools: ['default'],
    });
    await uc.update(
      operator(),
      token.id,
      change({ capabilities: ['ingest', 'execute'], max_concurrent_tasks: 2 }),
      null,
    );
    expect(fleet.audit).toHaveLength(0);
  });

  it("tells the token's running workers to register again (reload) after a change of pools or concurrency", async () => {
    const { fleet, liveness, uc, token } = await setup();
    const [a, b] = [await workerOf(fleet, token.id, 'i-1'), await workerOf(fleet, token.id, 'i-2')];
    await uc.update(
      operator(),
      token.id,
      change({ pools: ['default', 'gpu'], max_concurrent_tasks: 8 }),
      null,
    );
    expect(liveness.controls).toEqual(
      expect.arrayContaining([
        { workerId: a.id, message: { type: 'reload' } },
        { workerId: b.id, message: { type: 'reload' } },
      ]),
    );
    expect(liveness.controls).toHaveLength(2);
  });

  it('sends no reload for a rename alone, nor for a call that changes nothing', async () => {
    const { fleet, liveness, uc, token } = await setup();
    await workerOf(fleet, token.id, 'i-1');
    await uc.update(operator(), token.id, change({ name: 'renamed' }), null);
    await uc.update(operator(), token.id, change({ pools: ['default'] }), null);
    expect(liveness.controls).toEqual([]);
  });

  it('keeps a committed change when Redis cannot be told (the reaper repeats the reload)', async () => {
    const { fleet, liveness, uc, token } = await setup();
    await workerOf(fleet, token.id, 'i-1');
    liveness.sendControl = async () => {
      throw new Error('Redis went away');
    };
    const view = await uc.update(operator(), token.id, change({ max_concurrent_tasks: 6 }), null);
    expect(view).toMatchObject({ max_concurrent_tasks: 6 });
  });

  it('refuses a revoked token with a conflict and changes nothing', async () => {
    const { fleet, uc, token } = await setup();
    await fleet.repos.workerTokens.revoke(ORG, token.id, new Date());
    await expect(uc.update(operator(), token.id, change({ pools: ['gpu'] }), null)).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(fleet.tokens.get(token.id)?.pools).toEqual(['default']);
    expect(fleet.audit).toHaveLength(0);
  });

  it('refuses a token provisioned from configuration: its settings come from there', async () => {
    const { fleet, uc, token } = await setup(PROVISIONED_WORKER_TOKEN_CREATOR);
    const err = await uc
      .update(operator(), token.id, change({ pools: ['gpu'] }), null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/configuration/);
    expect(fleet.audit).toHaveLength(0);
  });

  it("answers another organization's token as not found", async () => {
    const { fleet, uc, token } = await setup();
    await expect(
      uc.update(operator(OTHER_ORG), token.id, change({ pools: ['gpu'] }), null),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(fleet.tokens.get(token.id)?.pools).toEqual(['default']);
  });
});
