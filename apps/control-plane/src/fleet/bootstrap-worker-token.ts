import type {
  ProvisionWorkerTokenCommand,
  ProvisionWorkerTokenResult,
  ProvisionWorkerTokenUseCase,
  WorkerTokenRecord,
} from '@agentfleet/fleet';
import type { ControlPlaneEnv } from '../env';

/** What configuration asks for, or undefined when AGENTFLEET_BOOTSTRAP_WORKER_TOKEN is unset (the feature is off). */
export function bootstrapWorkerTokenCommand(env: ControlPlaneEnv): ProvisionWorkerTokenCommand | undefined {
  const token = env.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN;
  if (!token) return undefined;
  return {
    token: token.reveal(),
    organization: env.AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION,
    name: env.AGENTFLEET_BOOTSTRAP_WORKER_NAME,
    capabilities: env.AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES,
    pools: env.AGENTFLEET_BOOTSTRAP_WORKER_POOLS,
    maxConcurrentTasks: env.AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS,
    labels: env.AGENTFLEET_BOOTSTRAP_WORKER_LABELS,
  };
}

export interface ProvisioningLogLine {
  level: 'log' | 'warn' | 'error';
  message: string;
}

const shown = (t: Pick<WorkerTokenRecord, 'prefix'>) => `awt_${t.prefix}_…`;
const NEW_TOKEN =
  'put a new token (awt_<12 letters/digits>_<43 base64url>) into AGENTFLEET_BOOTSTRAP_WORKER_TOKEN ' +
  '(Helm: a new bootstrapWorkerToken.value or a new value in its Secret) and restart the control plane and the workers';

/**
 * The one line start-up logs: what happened, naming the token by its prefix only (never the secret).
 * Problems are errors that say what the operator must do; none of them stops start-up, because the
 * API (and every other worker token) works without this one.
 */
export function provisioningLogLine(
  r: ProvisionWorkerTokenResult,
  cmd: Pick<ProvisionWorkerTokenCommand, 'organization'>,
): ProvisioningLogLine {
  const head = 'bootstrap worker token';
  switch (r.outcome) {
    case 'created':
      return {
        level: 'log',
        message: `${head} ${shown(r.token)}: created in organization "${cmd.organization}" as "${r.token.name}" (capabilities ${r.token.capabilities.join(', ')}; pools ${r.token.pools.join(', ')}; ${r.token.maxConcurrentTasks} concurrent tasks)`,
      };
    case 'rotated': {
      const deferred = r.revoked.some((x) => x.workersStopped === 'deferred');
      const old = r.revoked
        .map((x) =>
          x.workersStopped === 'deferred'
            ? `${shown(x.token)} (Redis did not answer: the reaper stops its workers once it does)`
            : `${shown(x.token)} (${x.workersStopped} worker(s) stopped)`,
        )
        .join(', ');
      return {
        level: deferred ? 'warn' : 'log',
        message: `${head} ${shown(r.token)}: rotated: created in organization "${cmd.organization}" as "${r.token.name}" and revoked the earlier ${old}`,
      };
    }
    case 'updated':
      return {
        level: 'log',
        message: `${head} ${shown(r.token)}: updated (${Object.keys(r.changes).join(', ')}); workers registered before keep their settings until they register again`,
      };
    case 'unchanged':
      return { level: 'log', message: `${head} ${shown(r.token)}: unchanged` };
    case 'revoked':
      return {
        level: 'error',
        message: `${head} ${shown(r.token)} was revoked${r.token.revokedAt ? ` at ${r.token.revokedAt.toISOString()}` : ''} and is never re-enabled, so workers using it are refused: ${NEW_TOKEN}`,
      };
    case 'organization_not_found':
      return {
        level: 'error',
        message: `${head} not provisioned: organization "${r.organization}" (AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION) does not exist; create it (POST /api/v1/organizations) or name an existing one, then restart the control plane`,
      };
    case 'other_organization':
      return {
        level: 'error',
        message: `${head} ${shown(r.token)} belongs to another organization than "${cmd.organization}" (AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION) and a token never moves between organizations: set the organization back, or ${NEW_TOKEN}`,
      };
    case 'not_provisioned':
      return {
        level: 'warn',
        message: `${head} ${shown(r.token)} was created through the API (POST /api/v1/worker-tokens): its settings are managed there and AGENTFLEET_BOOTSTRAP_WORKER_* are not applied to it`,
      };
    case 'prefix_taken':
      return {
        level: 'error',
        message: `${head} not provisioned: its prefix awt_${r.prefix}_ belongs to another worker token; ${NEW_TOKEN}`,
      };
  }
}

/**
 * Start-up step, after the instance bootstrap (which creates the first organization on an empty
 * database): creates or updates the configured worker token and logs one line. A database error
 * propagates and stops start-up, like the instance bootstrap's.
 */
export async function provisionBootstrapWorkerToken(
  useCase: Pick<ProvisionWorkerTokenUseCase, 'execute'>,
  env: ControlPlaneEnv,
  logger: { log(message: string): void; warn(message: string): void; error(message: string): void },
): Promise<ProvisionWorkerTokenResult | undefined> {
  const cmd = bootstrapWorkerTokenCommand(env);
  if (!cmd) return undefined;
  const result = await useCase.execute(cmd);
  const line = provisioningLogLine(result, cmd);
  logger[line.level](line.message);
  return result;
}
