/**
 * The `seed` service of deploy/compose.yaml: makes the execution targets the stack's worker serves, so
 * `docker compose up` ends with a fleet that runs jobs and no manual step.
 *
 * It runs in the control-plane image (Node 24 strips the types of this file; only node: modules and
 * global fetch, nothing to install) once the control plane is ready:
 * 1. issues a transient instance-admin key with the image's own CLI (`cli.js bootstrap`), whose output
 *    is kept from the logs;
 * 2. creates each target of AGENTFLEET_SEED_TARGETS (a JSON array of `POST /api/v1/execution-targets`
 *    bodies) through the API, so validation and the audit log apply; an existing name is left as it is;
 * 3. revokes the transient key, whatever happened, so no admin credential outlives the seed.
 * Safe to run on every `docker compose up`.
 */
import { execFile } from 'node:child_process';

interface SeedConfig {
  controlPlaneUrl: string;
  cli: string;
  organization: string;
  targets: { name: string }[];
}

const API_KEY = /afk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/;

function log(message: string): void {
  process.stdout.write(`[seed] ${message}\n`);
}

function readConfig(env: NodeJS.ProcessEnv): SeedConfig {
  const raw = env['AGENTFLEET_SEED_TARGETS'];
  if (!raw) throw new Error('AGENTFLEET_SEED_TARGETS is required: a JSON array of execution-target bodies');
  let targets: unknown;
  try {
    targets = JSON.parse(raw);
  } catch (e) {
    throw new Error(`AGENTFLEET_SEED_TARGETS is not JSON: ${(e as Error).message}`);
  }
  const named = (t: unknown) =>
    typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string';
  if (!Array.isArray(targets) || !targets.every(named))
    throw new Error('AGENTFLEET_SEED_TARGETS must be a JSON array of objects with a name');
  return {
    controlPlaneUrl: (env['AGENTFLEET_CONTROL_PLANE_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    cli: env['AGENTFLEET_SEED_CLI'] ?? '/app/dist/apps/control-plane/src/cli.js',
    organization: env['AGENTFLEET_SEED_ORGANIZATION'] ?? 'default',
    targets: targets as { name: string }[],
  };
}

/** A new instance-admin key from the control plane's CLI; its banner never reaches this process' output. */
function issueTransientKey(config: SeedConfig): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [config.cli, 'bootstrap', '--org', config.organization],
      { timeout: 60_000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          return reject(new Error(`${config.cli} bootstrap failed: ${stderr.trim() || error.message}`));
        const key = API_KEY.exec(stdout)?.[0];
        if (!key) return reject(new Error(`${config.cli} bootstrap printed no API key`));
        resolve(key);
      },
    );
  });
}

async function call(
  config: SeedConfig,
  key: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${config.controlPlaneUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The control plane may still be opening its pools when compose calls it healthy a moment early. */
async function waitUntilReady(config: SeedConfig): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ok = await fetch(`${config.controlPlaneUrl}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${config.controlPlaneUrl}/readyz did not answer 200 in 120 s`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function revoke(config: SeedConfig, key: string): Promise<void> {
  const prefix = key.split('_')[1];
  // keys are listed oldest first: page until this one turns up
  for (let offset = 0; ; offset += 200) {
    const page = await call(config, key, 'GET', `/api/v1/api-keys?limit=200&offset=${offset}`);
    const items = (page.body as { items?: { id: string; prefix: string }[] }).items;
    if (page.status !== 200 || !items) throw new Error(`listing API keys: ${page.status}`);
    const own = items.find((k) => k.prefix === prefix);
    if (own) {
      const res = await call(config, key, 'DELETE', `/api/v1/api-keys/${own.id}`);
      if (res.status !== 200) throw new Error(`revoking the seed's key: ${res.status}`);
      return;
    }
    if (items.length < 200) throw new Error("the seed's key is not in its organization's list");
  }
}

async function main(): Promise<void> {
  const config = readConfig(process.env);
  await waitUntilReady(config);
  const key = await issueTransientKey(config);
  let failure: Error | undefined;
  try {
    for (const target of config.targets) {
      const res = await call(config, key, 'POST', '/api/v1/execution-targets', target);
      if (res.status === 201) log(`created execution target ${target.name}`);
      else if (res.status === 409) log(`execution target ${target.name} exists: left as it is`);
      else
        throw new Error(
          `creating execution target ${target.name}: ${res.status} ${JSON.stringify(res.body)}`,
        );
    }
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
  }
  // the key goes whatever happened above; a failed revocation is reported, never the only error shown
  try {
    await revoke(config, key);
    log('revoked the transient admin key');
  } catch (e) {
    if (failure) log(`could not revoke the transient admin key either: ${(e as Error).message}`);
    else failure = e instanceof Error ? e : new Error(String(e));
  }
  if (failure) throw failure;
}

main().catch((e: unknown) => {
  process.stderr.write(`[seed] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
