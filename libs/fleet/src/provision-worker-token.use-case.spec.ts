import type { CredentialHasher } from '@agentfleet/domain';
import { createHash, randomBytes } from 'node:crypto';
import type { WorkerTokenRecord } from './fleet.ports';
import { FakeLiveness, InMemoryFleet } from './in-memory-fleet.fake';
import {
  PROVISIONED_WORKER_TOKEN_CREATOR,
  type ProvisionWorkerTokenCommand,
  ProvisionWorkerTokenUseCase,
} from './provision-worker-token.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const OTHER_ORG = '00000000-0000-4000-8000-000000000002';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const sha256 = (p: string) => createHash('sha256').update(p).digest('hex');
/** The real hash (SHA-256 of the whole token); comparison need not be constant-time in a spec. */
const hasher: CredentialHasher = {
  issue: () => {
    throw new Error('not used');
  },
  hash: sha256,
  matches: (plaintext, stored) => sha256(plaintext) === stored,
};

function newToken(prefix?: string): string {
  const p = prefix ?? [...randomBytes(12)].map((b) => ALNUM[b % 62]).join('');
  return `awt_${p}_${randomBytes(32).toString('base64url')}`;
}

function command(over: Partial<ProvisionWorkerTokenCommand> = {}): ProvisionWorkerTokenCommand {
  return {
    token: newToken(),
    organization: 'default',
    name: 'helm-bootstrap',
    labels: { cluster: 'eu-1' },
    capabilities: ['execute', 'ingest', 'supervise'],
    maxConcurrentTasks: 4,
    pools: ['default'],
    ...over,
  };
}

function setup() {
  const fleet = new InMemoryFleet();
  fleet.organizationIds.set('default', ORG);
  fleet.organizationIds.set('other', OTHER_ORG);
  const live = new FakeLiveness();
  const uc = new ProvisionWorkerTokenUseCase(fleet, hasher, live, { now: () => new Date(live.nowMs) });
  return { fleet, live, uc };
}

/** A token made through the API (POST /api/v1/worker-tokens), as ManageWorkerTokensUseCase stores it. */
async function handMade(fleet: InMemoryFleet, plaintext: string, name = 'helm-bootstrap') {
  return fleet.repos.workerTokens.create({
    organizationId: ORG,
    name,
    prefix: plaintext.split('_')[1]!,
    tokenHash: sha256(plaintext),
    labels: {},
    capabilities: ['execute'],
    maxConcurrentTasks: 1,
    pools: ['default'],
    createdBy: 'api_key:00000000-0000-4000-8000-0000000000aa',
    expiresAt: null,
  });
}

async function registerWorker(fleet: InMemoryFleet, live: FakeLiveness, token: WorkerTokenRecord) {
  const w = await fleet.repos.workers.upsertRegistration({
    organizationId: token.organizationId,
    tokenId: token.id,
    instanceId: `i-${randomBytes(3).toString('hex')}`,
    hostname: 'h',
    version: '1',
    protocolVersion: 1,
    labels: {},
    capabilities: token.capabilities,
    pools: token.pools,
    capacity: {},
    concurrency: 1,
    registeredAt: new Date(live.nowMs),
  });
  live.beat(w.id);
  return w;
}

describe('ProvisionWorkerTokenUseCase', () => {
  it('creates the token in the named organization with the configured settings, storing only its SHA-256 hash, and audits it', async () => {
    const { fleet, uc } = setup();
    const cmd = command();
    const r = await uc.execute(cmd);
    expect(r.outcome).toBe('created');
    const [stored, ...more] = [...fleet.tokens.values()];
    expect(more).toEqual([]);
    expect(stored).toMatchObject({
      organizationId: ORG,
      name: 'helm-bootstrap',
      prefix: cmd.token.split('_')[1],
      tokenHash: sha256(cmd.token),
      labels: { cluster: 'eu-1' },
      capabilities: ['execute', 'ingest', 'supervise'],
      maxConcurrentTasks: 4,
      pools: ['default'],
      createdBy: PROVISIONED_WORKER_TOKEN_CREATOR,
      expiresAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify([...fleet.tokens.values()])).not.toContain(cmd.token.slice('awt_'.length + 13));
    expect(fleet.audit).toEqual([
      expect.objectContaining({
        actor: { organizationId: ORG },
        action: 'worker_token.created',
        resourceType: 'worker_token',
        resourceId: stored!.id,
        details: expect.objectContaining({ actor: PROVISIONED_WORKER_TOKEN_CREATOR, name: 'helm-bootstrap' }),
      }),
    ]);
    expect(JSON.stringify(fleet.audit)).not.toContain(cmd.token.slice('awt_'.length + 13));
  });

  it('takes the provisioning lock in every run (replicas starting together serialise on it)', async () => {
    const { fleet, uc } = setup();
    const cmd = command();
    await uc.execute(cmd);
    await uc.execute(cmd);
    expect(fleet.provisioningLocks).toBe(2);
  });

  it('does nothing on a second start with the same token and settings: no write, no audit entry', async () => {
    const { fleet, uc } = setup();
    const cmd = command();
    await uc.execute(cmd);
    const before = JSON.stringify([...fleet.tokens.values()]);
    const r = await uc.execute(cmd);
    expect(r.outcome).toBe('unchanged');
    expect(JSON.stringify([...fleet.tokens.values()])).toBe(before);
    expect(fleet.audit).toHaveLength(1);
  });

  it('treats capabilities, pools and labels given in another order as unchanged', async () => {
    const { fleet, uc } = setup();
    const cmd = command({ pools: ['default', 'gpu'], labels: { a: '1', b: '2' } });
    await uc.execute(cmd);
    const r = await uc.execute({
      ...cmd,
      capabilities: ['supervise', 'execute', 'ingest'],
      pools: ['gpu', 'default'],
      labels: { b: '2', a: '1' },
    });
    expect(r.outcome).toBe('unchanged');
    expect(fleet.audit).toHaveLength(1);
  });

  it('updates changed settings in place (same token id) and audits each change from → to', async () => {
    const { fleet, uc } = setup();
    const cmd = command();
    const first = await uc.execute(cmd);
    const r = await uc.execute({
      ...cmd,
      name: 'renamed',
      capabilities: ['execute'],
      pools: ['default', 'gpu'],
      maxConcurrentTasks: 8,
      labels: {},
    });
    expect(r.outcome).toBe('updated');
    if (r.outcome !== 'updated' || first.outcome !== 'created') throw new Error('unexpected outcome');
    expect(r.token.id).toBe(first.token.id);
    expect(fleet.tokens.get(first.token.id)).toMatchObject({
      name: 'renamed',
      capabilities: ['execute'],
      pools: ['default', 'gpu'],
      maxConcurrentTasks: 8,
      labels: {},
      revokedAt: null,
    });
    expect(fleet.tokens.size).toBe(1);
    const audit = fleet.audit.at(-1)!;
    expect(audit).toMatchObject({ action: 'worker_token.updated', resourceId: first.token.id });
    expect(audit.details).toEqual({
      actor: PROVISIONED_WORKER_TOKEN_CREATOR,
      changes: {
        name: { from: 'helm-bootstrap', to: 'renamed' },
        capabilities: { from: ['execute', 'ingest', 'supervise'], to: ['execute'] },
        pools: { from: ['default'], to: ['default', 'gpu'] },
        max_concurrent_tasks: { from: 4, to: 8 },
        labels: { from: { cluster: 'eu-1' }, to: {} },
      },
    });
    expect(Object.keys(r.changes).sort()).toEqual([
      'capabilities',
      'labels',
      'max_concurrent_tasks',
      'name',
      'pools',
    ]);
  });

  it('rotates on a new token value: creates it, revokes the earlier provisioned token of the same organization and name, and stops its workers', async () => {
    const { fleet, live, uc } = setup();
    const old = await uc.execute(command());
    if (old.outcome !== 'created') throw new Error('unexpected outcome');
    const w = await registerWorker(fleet, live, old.token);

    const next = command();
    const r = await uc.execute(next);
    expect(r.outcome).toBe('rotated');
    if (r.outcome !== 'rotated') throw new Error('unexpected outcome');
    expect(r.token.prefix).toBe(next.token.split('_')[1]);
    expect(r.revoked).toEqual([{ token: expect.objectContaining({ id: old.token.id }), workersStopped: 1 }]);
    expect(fleet.tokens.get(old.token.id)?.revokedAt).toEqual(new Date(live.nowMs));
    expect(fleet.tokens.get(r.token.id)?.revokedAt).toBeNull();
    // the existing revoke path: Redis says revoked (heartbeats refuse), the worker is told to stop and goes offline
    expect(live.tokenState.get(old.token.id)).toEqual({ revoked: true, expiresAt: null });
    expect(live.controls).toEqual([
      { workerId: w.id, message: { type: 'stop', reason: expect.stringContaining('rotated') } },
    ]);
    expect(fleet.workers.get(w.id)?.status).toBe('offline');
    expect(fleet.audit.map((a) => [a.action, a.resourceId])).toEqual([
      ['worker_token.created', old.token.id],
      ['worker_token.created', r.token.id],
      ['worker_token.revoked', old.token.id],
      ['worker.stopped', w.id],
    ]);
    expect(fleet.audit[2]?.details).toEqual({
      actor: PROVISIONED_WORKER_TOKEN_CREATOR,
      reason: 'rotated',
      replaced_by: r.token.id,
    });
  });

  it('leaves a token of the same name made through the API alone when rotating', async () => {
    const { fleet, uc } = setup();
    const manual = await handMade(fleet, newToken());
    await uc.execute(command());
    const r = await uc.execute(command());
    expect(r.outcome).toBe('rotated');
    expect(fleet.tokens.get(manual.id)?.revokedAt).toBeNull();
  });

  it('leaves provisioned tokens of another name or another organization alone when rotating', async () => {
    const { fleet, uc } = setup();
    const otherName = await uc.execute(command({ name: 'gpu-fleet' }));
    const otherOrg = await uc.execute(command({ organization: 'other' }));
    const r = await uc.execute(command());
    expect(r.outcome).toBe('created');
    for (const o of [otherName, otherOrg]) {
      if (o.outcome !== 'created') throw new Error('unexpected outcome');
      expect(fleet.tokens.get(o.token.id)?.revokedAt).toBeNull();
    }
  });

  it('never un-revokes a revoked token: reports it and writes nothing, even when the settings changed', async () => {
    const { fleet, live, uc } = setup();
    const cmd = command();
    const first = await uc.execute(cmd);
    if (first.outcome !== 'created') throw new Error('unexpected outcome');
    await fleet.repos.workerTokens.revoke(ORG, first.token.id, new Date(live.nowMs));
    const auditBefore = fleet.audit.length;
    const r = await uc.execute({ ...cmd, maxConcurrentTasks: 9 });
    expect(r.outcome).toBe('revoked');
    expect(fleet.tokens.get(first.token.id)).toMatchObject({
      revokedAt: new Date(live.nowMs),
      maxConcurrentTasks: 4,
    });
    expect(fleet.tokens.size).toBe(1);
    expect(fleet.audit).toHaveLength(auditBefore);
  });

  it('reports a missing organization and writes nothing', async () => {
    const { fleet, uc } = setup();
    const r = await uc.execute(command({ organization: 'nope' }));
    expect(r).toEqual({ outcome: 'organization_not_found', organization: 'nope' });
    expect(fleet.tokens.size).toBe(0);
    expect(fleet.audit).toEqual([]);
  });

  it('does not take over a token of the same value made through the API: reports it and leaves its settings', async () => {
    const { fleet, uc } = setup();
    const plaintext = newToken();
    const manual = await handMade(fleet, plaintext);
    const r = await uc.execute(command({ token: plaintext }));
    expect(r.outcome).toBe('not_provisioned');
    expect(fleet.tokens.get(manual.id)).toMatchObject({ capabilities: ['execute'], maxConcurrentTasks: 1 });
    expect(fleet.audit).toEqual([]);
  });

  it('reports a token value whose prefix belongs to another token, and writes nothing', async () => {
    const { fleet, uc } = setup();
    const first = command();
    await uc.execute(first);
    const samePrefix = newToken(first.token.split('_')[1]);
    const r = await uc.execute(command({ token: samePrefix }));
    expect(r).toEqual({ outcome: 'prefix_taken', prefix: first.token.split('_')[1] });
    expect(fleet.tokens.size).toBe(1);
    expect(fleet.audit).toHaveLength(1);
  });

  it('does not move a token to another organization: reports it and writes nothing', async () => {
    const { fleet, uc } = setup();
    const cmd = command();
    await uc.execute(cmd);
    const r = await uc.execute({ ...cmd, organization: 'other' });
    expect(r.outcome).toBe('other_organization');
    expect([...fleet.tokens.values()].map((t) => t.organizationId)).toEqual([ORG]);
    expect(fleet.audit).toHaveLength(1);
  });

  it('refuses a malformed token without echoing it', async () => {
    const { fleet, uc } = setup();
    await expect(uc.execute(command({ token: 'awt_short_secret-value' }))).rejects.toThrow(
      /not a worker token/,
    );
    await expect(uc.execute(command({ token: 'awt_short_secret-value' }))).rejects.not.toThrow(
      /secret-value/,
    );
    expect(fleet.tokens.size).toBe(0);
  });

  it('still rotates when Redis cannot be told: the old token is revoked and its workers are left to the reaper', async () => {
    const { fleet, live, uc } = setup();
    const old = await uc.execute(command());
    if (old.outcome !== 'created') throw new Error('unexpected outcome');
    await registerWorker(fleet, live, old.token);
    live.publishTokenState = async () => {
      throw new Error('Redis went away');
    };
    const r = await uc.execute(command());
    expect(r.outcome).toBe('rotated');
    if (r.outcome !== 'rotated') throw new Error('unexpected outcome');
    expect(r.revoked).toEqual([
      { token: expect.objectContaining({ id: old.token.id }), workersStopped: 'deferred' },
    ]);
    expect(fleet.tokens.get(old.token.id)?.revokedAt).not.toBeNull();
    // what the reaper's reconciliation picks up
    expect(
      (await fleet.repos.workerTokens.deadWithActiveWorkers(new Date(live.nowMs))).map((t) => t.id),
    ).toEqual([old.token.id]);
  });
});
