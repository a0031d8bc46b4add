import { type UpdateTargetInput, updateTargetSchema } from '@agentfleet/contracts';
import {
  type AuditEntry,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  type Principal,
  type UnitOfWork,
} from '@agentfleet/domain';
import type { ExecutionRepositories, TargetChange, TargetRecord } from './execution.ports';
import { ManageTargetsUseCase } from './manage-targets.use-case';

const ORG = '00000000-0000-4000-8000-000000000001';
const OTHER_ORG = '00000000-0000-4000-8000-000000000002';
const ID = '00000000-0000-4000-8000-0000000000bb';

const operator = (organizationId = ORG): Principal => ({
  kind: 'api_key',
  apiKeyId: '00000000-0000-4000-8000-0000000000aa',
  organizationId,
  userId: null,
  role: 'operator',
  scopes: ['targets:read', 'targets:write'],
  instanceAdmin: false,
});

const stored = (): TargetRecord => ({
  id: ID,
  organizationId: ORG,
  name: 'docker-a',
  type: 'docker',
  connectionConfig: { socket_path: '/var/run/docker.sock', network_mode: 'jobs' },
  capacity: { max_memory_mb: 4096, max_cpu: 4, max_concurrent: 8 },
  workerPool: 'default',
  allowedImages: ['agentfleet/*'],
  defaultImage: 'agentfleet/agent-runtime:dev',
  breakerOptions: {
    error_threshold_percentage: 50,
    volume_threshold: 3,
    reset_timeout_ms: 30_000,
    rolling_window_ms: 60_000,
  },
  isActive: true,
  createdAt: new Date('2026-01-01T00:00:00Z'),
  updatedAt: new Date('2026-01-01T00:00:00Z'),
});

/** One target in memory; a transaction's writes are kept only when its work does not throw. */
function setup() {
  let row = stored();
  const audits: AuditEntry[] = [];
  const calls = { locked: 0, updates: 0 };
  const uow: UnitOfWork<ExecutionRepositories> = {
    async run(work) {
      const before = { row: structuredClone(row), audits: audits.length };
      try {
        return await work({
          targets: {
            async findByIdForUpdate(org: string, id: string) {
              calls.locked++;
              return org === row.organizationId && id === row.id ? structuredClone(row) : undefined;
            },
            async update(org: string, id: string, change: TargetChange) {
              calls.updates++;
              if (org !== row.organizationId || id !== row.id) return undefined;
              row = { ...row, ...change };
              return structuredClone(row);
            },
          },
          audit: {
            async record(e: AuditEntry) {
              audits.push(e);
            },
          },
        } as unknown as ExecutionRepositories);
      } catch (e) {
        row = before.row;
        audits.length = before.audits;
        throw e;
      }
    },
  };
  return { uc: new ManageTargetsUseCase(uow), row: () => row, audits, calls };
}

const change = (body: Record<string, unknown>): UpdateTargetInput => updateTargetSchema.parse(body);

describe('ManageTargetsUseCase.update', () => {
  it('merges a partial capacity and breaker into the stored ones and audits only what changed', async () => {
    const s = setup();
    const view = await s.uc.update(
      operator(),
      ID,
      change({ capacity: { max_memory_mb: 8192 }, breaker: { reset_timeout_ms: 5000 } }),
      '10.0.0.1',
    );
    expect(view.capacity).toEqual({ max_memory_mb: 8192, max_cpu: 4, max_concurrent: 8 });
    expect(view.breaker).toMatchObject({ reset_timeout_ms: 5000, error_threshold_percentage: 50 });
    expect(s.audits).toHaveLength(1);
    expect(s.audits[0]).toMatchObject({
      action: 'execution_target.updated',
      resourceType: 'execution_target',
      resourceId: ID,
      details: {
        changes: {
          capacity: {
            from: { max_memory_mb: 4096, max_cpu: 4, max_concurrent: 8 },
            to: { max_memory_mb: 8192, max_cpu: 4, max_concurrent: 8 },
          },
          breaker: {
            from: expect.objectContaining({ reset_timeout_ms: 30_000 }),
            to: expect.objectContaining({ reset_timeout_ms: 5000 }),
          },
        },
      },
    });
    expect(s.audits[0]!.actor.ipAddress).toBe('10.0.0.1');
  });

  it('deactivates and reactivates a target', async () => {
    const s = setup();
    expect((await s.uc.update(operator(), ID, change({ is_active: false }), null)).is_active).toBe(false);
    expect((await s.uc.update(operator(), ID, change({ is_active: true }), null)).is_active).toBe(true);
    expect(s.audits.map((a) => a.details?.['changes'])).toEqual([
      { is_active: { from: true, to: false } },
      { is_active: { from: false, to: true } },
    ]);
  });

  it('writes nothing and audits nothing when every given value is the stored one', async () => {
    const s = setup();
    const view = await s.uc.update(
      operator(),
      ID,
      change({ is_active: true, capacity: { max_cpu: 4 }, worker_pool: 'default', name: 'docker-a' }),
      null,
    );
    expect(view.is_active).toBe(true);
    expect(s.calls.updates).toBe(0);
    expect(s.audits).toHaveLength(0);
  });

  it.each([
    ['worker_pool', { worker_pool: 'gpu' }],
    ['type', { type: 'kubernetes' }],
    ['name', { name: 'docker-b' }],
    ['connection', { connection: { socket_path: '/other.sock' } }],
  ])('refuses to change %s with a conflict naming it, and changes nothing else', async (field, body) => {
    const s = setup();
    const err = await s.uc
      .update(operator(), ID, change({ ...body, capacity: { max_cpu: 8 } }), null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).field).toBe(field);
    expect(s.row()).toEqual(stored());
    expect(s.audits).toHaveLength(0);
  });

  it('accepts the stored connection written with its keys in another order', async () => {
    const s = setup();
    await s.uc.update(
      operator(),
      ID,
      change({
        connection: { network_mode: 'jobs', socket_path: '/var/run/docker.sock' },
        allowed_images: [],
      }),
      null,
    );
    expect(s.row().allowedImages).toEqual([]);
  });

  it('refuses allowed_images that the default image would not pass, naming the field', async () => {
    const s = setup();
    const err = await s.uc
      .update(operator(), ID, change({ allowed_images: ['registry.internal/*'] }), null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).field).toBe('allowed_images');
    const both = await s.uc.update(
      operator(),
      ID,
      change({ allowed_images: ['registry.internal/*'], default_image: 'registry.internal/runtime:1' }),
      null,
    );
    expect(both).toMatchObject({
      allowed_images: ['registry.internal/*'],
      default_image: 'registry.internal/runtime:1',
    });
    const image = await s.uc
      .update(operator(), ID, change({ default_image: 'docker.io/evil:latest' }), null)
      .catch((e: unknown) => e);
    expect((image as InvalidInputError).field).toBe('default_image');
  });

  it("answers another organization's target as not found, without writing", async () => {
    const s = setup();
    await expect(
      s.uc.update(operator(OTHER_ORG), ID, change({ is_active: false }), null),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(s.row().isActive).toBe(true);
    expect(s.calls.updates).toBe(0);
    expect(s.audits).toHaveLength(0);
  });

  it('reads the target under a lock before changing it (concurrent changes apply in turn)', async () => {
    const s = setup();
    await s.uc.update(operator(), ID, change({ capacity: { max_cpu: 2 } }), null);
    expect(s.calls.locked).toBe(1);
  });
});

describe('updateTargetSchema', () => {
  it('names the field at fault', () => {
    const paths = (body: unknown) =>
      updateTargetSchema.safeParse(body).error?.issues.map((i) => i.path.join('.'));
    expect(paths({ capacity: { max_memory_mb: 8 } })).toEqual(['capacity.max_memory_mb']);
    expect(paths({ breaker: { error_threshold_percentage: 101 } })).toEqual([
      'breaker.error_threshold_percentage',
    ]);
    expect(paths({ capacity: {} })).toEqual(['capacity']);
    expect(paths({})).toEqual(['']);
    expect(paths({ is_active: 'no' })).toEqual(['is_active']);
  });
});
