import type { InProcessControlPlane } from './in-process-control-plane';

/** Well-formed credentials that no row matches (prefix and secret of the right shape). */
export const UNKNOWN_API_KEY = `afk_ZZZZZZZZZZZZ_${'Z'.repeat(43)}`;
export const UNKNOWN_WORKER_TOKEN = `awt_ZZZZZZZZZZZZ_${'Z'.repeat(43)}`;

/** The one error shape of the API. */
export interface ApiError {
  statusCode: number;
  error: string;
  message: string;
  errors?: { field: string; message: string }[];
}

/** A valid registration body; `over` replaces top-level fields. */
export function registration(
  instanceId: string,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    instance_id: instanceId,
    hostname: `host-${instanceId}`,
    version: '0.1.0-e2e',
    protocol_version: 1,
    capacity: { memory_mb: 2048, cpus: 2, runtimes: ['process'] },
    ...over,
  };
}

export async function createWorkerToken(
  cp: InProcessControlPlane,
  key: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; token: string } & Record<string, unknown>> {
  const res = await cp.as(key).post('/api/v1/worker-tokens', { name: 'e2e token', ...body });
  if (res.status !== 201)
    throw new Error(`creating a worker token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; token: string } & Record<string, unknown>;
}

export async function createApiKey(
  cp: InProcessControlPlane,
  key: string,
  body: Record<string, unknown>,
): Promise<{ id: string; key: string } & Record<string, unknown>> {
  const res = await cp.as(key).post('/api/v1/api-keys', { name: 'e2e key', ...body });
  if (res.status !== 201) throw new Error(`creating an API key: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; key: string } & Record<string, unknown>;
}

/** Registers a worker with `token`; returns the registration response. */
export async function registerWorker(
  cp: InProcessControlPlane,
  token: string,
  instanceId: string,
  over: Record<string, unknown> = {},
): Promise<{ worker_id: string } & Record<string, unknown>> {
  const res = await cp.as(token).post('/api/v1/workers/register', registration(instanceId, over));
  if (res.status !== 200) throw new Error(`registering a worker: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { worker_id: string } & Record<string, unknown>;
}

/** Creates a second organization with the instance-admin key; returns it and its first admin key. */
export async function createOrganization(
  cp: InProcessControlPlane,
  name: string,
): Promise<{ id: string; adminKey: string; adminKeyId: string }> {
  const res = await cp.as(cp.adminKey).post('/api/v1/organizations', { name });
  if (res.status !== 201)
    throw new Error(`creating an organization: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    id: res.body.organization.id,
    adminKey: res.body.admin_key.key,
    adminKeyId: res.body.admin_key.id,
  };
}

/** Total rows a list endpoint reports (what a bad request must leave unchanged). */
export async function totalOf(cp: InProcessControlPlane, key: string, path: string): Promise<number> {
  const res = await cp.as(key).get(path).expect(200);
  return res.body.total as number;
}

/** Id of the API key the request is made with, found by its prefix. */
export async function apiKeyIdOf(cp: InProcessControlPlane, key: string): Promise<string> {
  const prefix = key.split('_')[1];
  const res = await cp.as(key).get('/api/v1/api-keys?limit=200');
  if (res.status !== 200) throw new Error(`listing API keys: ${res.status}`);
  const found = (res.body.items as { id: string; prefix: string }[]).find((k) => k.prefix === prefix);
  if (!found) throw new Error('key not in its own organization');
  return found.id;
}
