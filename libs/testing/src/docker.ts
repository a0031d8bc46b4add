import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Docker from 'dockerode';

/** The Docker Engine the tests use; CI starts one at the default socket. */
export const TEST_DOCKER_SOCKET = process.env['AGENTFLEET_TEST_DOCKER_SOCKET'] ?? '/var/run/docker.sock';
/** What `npm run build:runtime-image` tags. */
export const RUNTIME_IMAGE = 'agentfleet/agent-runtime:dev';

export function createTestDocker(): Docker {
  return new Docker({ socketPath: TEST_DOCKER_SOCKET });
}

/** True when the engine answers a ping within two seconds. */
export async function dockerAvailable(socketPath = TEST_DOCKER_SOCKET): Promise<boolean> {
  const docker = new Docker({ socketPath });
  // the typings omit ping's options; dockerode passes abortSignal to the request
  const ping = docker.ping.bind(docker) as unknown as (opts: {
    abortSignal: AbortSignal;
  }) => Promise<unknown>;
  try {
    await ping({ abortSignal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Fails (never skips) when no engine answers: a suite that silently skips on CI proves nothing.
 * Call it in `beforeAll`.
 */
export async function assertDockerAvailable(socketPath = TEST_DOCKER_SOCKET): Promise<void> {
  if (await dockerAvailable(socketPath)) return;
  throw new Error(
    `Docker Engine is not reachable at ${socketPath}. These tests run against a real engine: ` +
      'install and start it (e.g. `apt-get install -y docker.io && dockerd --iptables=false --bridge=none &`), ' +
      'or point AGENTFLEET_TEST_DOCKER_SOCKET at its socket.',
  );
}

let imageBuild: Promise<string> | undefined;

/**
 * Builds the agent-runtime image (dist/tools/runtime-image/build.js, compiled by jest's global setup)
 * once per test process. The build skips itself when the image's content hash already exists, so this
 * also catches an image left over from older code. Resolves with the image name.
 */
export function ensureRuntimeImage(): Promise<string> {
  imageBuild ??= buildRuntimeImage();
  return imageBuild;
}

async function buildRuntimeImage(): Promise<string> {
  const script = join(repositoryRoot(), 'dist/tools/runtime-image/build.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  await new Promise<void>((resolve, reject) =>
    execFile(
      process.execPath,
      [script],
      { env: { ...process.env, DOCKER_HOST: `unix://${TEST_DOCKER_SOCKET}` }, timeout: 180_000 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`building ${RUNTIME_IMAGE} failed: ${error.message}\n${stdout}${stderr}`))
          : resolve(),
    ),
  );
  return RUNTIME_IMAGE;
}

/** The folder whose package.json is the workspace root (works from sources and from dist/). */
function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'agentfleet'
    ) {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no agentfleet package.json above ${__dirname}`);
  }
}
