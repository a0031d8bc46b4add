import { waitFor } from '@agentfleet/testing';
import { CONTROL_PLANE_ENTRY, type RunningProcess, freePort, spawnNode } from './processes';

export interface ControlPlaneProcess extends RunningProcess {
  url: string;
  /** Instance-admin key the process printed when it bootstrapped its empty database. */
  adminKey: string;
  /**
   * One API call, with the admin key unless another is given; never throws on an HTTP status (a 5xx
   * during an outage is data). `text` is the body as sent, `body` its JSON (or the text if not JSON).
   */
  api<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; body: T; text: string }>;
}

/**
 * The control plane as a real process (its own logs, its own connection pools), for tests that take a
 * server it depends on away. Bootstraps the database it is given and waits until it is ready. On a
 * database bootstrapped before (a restart), pass its admin key: no banner is printed then.
 */
export async function startControlPlaneProcess(
  env: Record<string, string>,
  opts: { adminKey?: string } = {},
): Promise<ControlPlaneProcess> {
  const port = await freePort();
  const p = spawnNode(CONTROL_PLANE_ENTRY, {
    AGENTFLEET_PORT: String(port),
    AGENTFLEET_HOST: '127.0.0.1',
    AGENTFLEET_LOG_LEVEL: 'info',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `control plane on ${port}`,
    });
  } catch (e) {
    p.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n--- control plane output ---\n${p.output().slice(-4000)}`);
  }
  const adminKey = opts.adminKey ?? /afk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(p.output())?.[0];
  if (!adminKey) {
    p.kill('SIGKILL');
    throw new Error(
      `the control plane printed no bootstrap key (database not empty?)\n${p.output().slice(-4000)}`,
    );
  }
  return {
    ...p,
    url,
    adminKey,
    async api<T>(
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      path: string,
      body?: unknown,
      key = adminKey,
    ) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { status: res.status, body: parsed as T, text };
    },
  };
}
