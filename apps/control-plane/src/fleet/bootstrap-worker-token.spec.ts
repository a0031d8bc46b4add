import { parseEnv } from '@agentfleet/contracts';
import type {
  ProvisionWorkerTokenCommand,
  ProvisionWorkerTokenResult,
  WorkerTokenRecord,
} from '@agentfleet/fleet';
import { controlPlaneEnvSchema } from '../env';
import { provisionBootstrapWorkerToken, provisioningLogLine } from './bootstrap-worker-token';

const SECRET = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x-_';
const TOKEN = `awt_AbCdEf123456_${SECRET}`;

function record(over: Partial<WorkerTokenRecord> = {}): WorkerTokenRecord {
  return {
    id: '00000000-0000-4000-8000-0000000000t1',
    organizationId: '00000000-0000-4000-8000-000000000001',
    name: 'helm-bootstrap',
    prefix: 'AbCdEf123456',
    tokenHash: 'f'.repeat(64),
    labels: {},
    capabilities: ['execute', 'ingest'],
    maxConcurrentTasks: 4,
    pools: ['default'],
    createdBy: 'system:bootstrap-worker-token',
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    workerId: null,
    createdAt: new Date(0),
    ...over,
  };
}

const OUTCOMES: ProvisionWorkerTokenResult[] = [
  { outcome: 'created', token: record() },
  {
    outcome: 'rotated',
    token: record(),
    revoked: [{ token: record({ prefix: 'OldOldOld123' }), workersStopped: 2 }],
  },
  { outcome: 'updated', token: record(), changes: { pools: { from: ['a'], to: ['b'] } } },
  { outcome: 'unchanged', token: record() },
  { outcome: 'revoked', token: record({ revokedAt: new Date('2030-01-02T03:04:05Z') }) },
  { outcome: 'organization_not_found', organization: 'acme' },
  { outcome: 'other_organization', token: record() },
  { outcome: 'not_provisioned', token: record() },
  { outcome: 'prefix_taken', prefix: 'AbCdEf123456' },
];

function capture() {
  const lines: { level: string; message: string }[] = [];
  return {
    lines,
    logger: {
      log: (message: string) => lines.push({ level: 'log', message }),
      warn: (message: string) => lines.push({ level: 'warn', message }),
      error: (message: string) => lines.push({ level: 'error', message }),
    },
  };
}

describe('bootstrap worker token at control-plane start', () => {
  it('does nothing when AGENTFLEET_BOOTSTRAP_WORKER_TOKEN is unset', async () => {
    const calls: ProvisionWorkerTokenCommand[] = [];
    const { lines, logger } = capture();
    const r = await provisionBootstrapWorkerToken(
      { execute: async (c) => (calls.push(c), OUTCOMES[0]!) },
      parseEnv(controlPlaneEnvSchema, {}),
      logger,
    );
    expect(r).toBeUndefined();
    expect(calls).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('hands the use case the configured token and settings, and logs exactly one line', async () => {
    const calls: ProvisionWorkerTokenCommand[] = [];
    const { lines, logger } = capture();
    const env = parseEnv(controlPlaneEnvSchema, {
      AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: TOKEN,
      AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION: 'platform',
      AGENTFLEET_BOOTSTRAP_WORKER_NAME: 'helm-bootstrap',
      AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: 'execute,ingest',
      AGENTFLEET_BOOTSTRAP_WORKER_POOLS: 'default,gpu',
      AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: '8',
      AGENTFLEET_BOOTSTRAP_WORKER_LABELS: 'cluster=prod',
    });
    await provisionBootstrapWorkerToken(
      { execute: async (c) => (calls.push(c), { outcome: 'unchanged', token: record() }) },
      env,
      logger,
    );
    expect(calls).toEqual([
      {
        token: TOKEN,
        organization: 'platform',
        name: 'helm-bootstrap',
        capabilities: ['execute', 'ingest'],
        pools: ['default', 'gpu'],
        maxConcurrentTasks: 8,
        labels: { cluster: 'prod' },
      },
    ]);
    expect(lines).toEqual([
      { level: 'log', message: 'bootstrap worker token awt_AbCdEf123456_…: unchanged' },
    ]);
  });

  it.each(OUTCOMES.map((r) => [r.outcome, r] as const))(
    'logs %s naming the token by its prefix only, never the secret',
    (_outcome, r) => {
      const line = provisioningLogLine(r, { organization: 'default' });
      expect(line.message).toMatch(/^bootstrap worker token /);
      expect(line.message).not.toContain(SECRET);
      expect(line.message).not.toContain('f'.repeat(16)); // nor the hash
    },
  );

  it('says created, rotated (with the revoked prefix), updated (with the fields) and unchanged at info level', () => {
    const [created, rotated, updated, unchanged] = OUTCOMES.slice(0, 4).map((r) =>
      provisioningLogLine(r, { organization: 'default' }),
    );
    expect(created).toEqual({
      level: 'log',
      message: expect.stringMatching(/awt_AbCdEf123456_…: created in organization "default"/),
    });
    expect(rotated).toEqual({
      level: 'log',
      message: expect.stringMatching(
        /: rotated: .*revoked the earlier awt_OldOldOld123_… \(2 worker\(s\) stopped\)/,
      ),
    });
    expect(updated).toEqual({ level: 'log', message: expect.stringMatching(/: updated \(pools\)/) });
    expect(unchanged?.level).toBe('log');
  });

  it('logs a problem as an error that names what the operator must do', () => {
    const byOutcome = Object.fromEntries(
      OUTCOMES.map((r) => [r.outcome, provisioningLogLine(r, { organization: 'default' })]),
    );
    expect(byOutcome['revoked']).toEqual({
      level: 'error',
      message: expect.stringMatching(
        /was revoked at 2030-01-02T03:04:05.000Z and is never re-enabled.*put a new token .* into AGENTFLEET_BOOTSTRAP_WORKER_TOKEN/,
      ),
    });
    expect(byOutcome['organization_not_found']).toEqual({
      level: 'error',
      message: expect.stringMatching(
        /organization "acme" \(AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION\) does not exist; create it \(POST \/api\/v1\/organizations\)/,
      ),
    });
    expect(byOutcome['other_organization']?.level).toBe('error');
    expect(byOutcome['prefix_taken']?.level).toBe('error');
    expect(byOutcome['not_provisioned']).toEqual({
      level: 'warn',
      message: expect.stringMatching(/created through the API .* not applied/),
    });
  });

  it('warns when a rotation could not tell Redis (the reaper stops the old workers later)', () => {
    const line = provisioningLogLine(
      {
        outcome: 'rotated',
        token: record(),
        revoked: [{ token: record({ prefix: 'OldOldOld123' }), workersStopped: 'deferred' }],
      },
      { organization: 'default' },
    );
    expect(line).toEqual({ level: 'warn', message: expect.stringMatching(/the reaper stops its workers/) });
  });
});
