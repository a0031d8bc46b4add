import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubernetesClient } from '@agentfleet/infra-runtime';

const run = promisify(execFile);

/** Reuse a running control plane instead of starting one (never defaults to KUBECONFIG: tests create Nodes). */
export const TEST_KUBECONFIG = process.env['AGENTFLEET_TEST_KUBECONFIG'];
const BIN_DIR = process.env['K8S_BIN_DIR'] ?? '/var/cache/agentfleet/k8s-1.20.2/bin';

export interface TestKubernetesCluster {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  /** A fresh namespace of this test file's own. */
  namespace: string;
  /** Deletes the namespace; stops the control plane if this call started it. */
  stop(): Promise<void>;
}

/** shared/k8s beside the repository (as on developer machines and in CI), found from this file upwards. */
async function scriptsDir(): Promise<string> {
  const override = process.env['AGENTFLEET_K8S_SCRIPTS'];
  if (override) return override;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'k8s');
    if (await exists(join(candidate, 'up.sh'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    'shared/k8s/up.sh not found beside the repository (set AGENTFLEET_K8S_SCRIPTS to its folder)',
  );
}

async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && (await exists(join(dir, command), constants.X_OK))) return true;
  }
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Fails (never skips) when the control plane cannot be built here: CI builds it, and a silently
 * skipped Kubernetes suite would hide a broken runtime.
 */
async function assertBinaries(): Promise<void> {
  const missing: string[] = [];
  for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    if (!(await exists(join(BIN_DIR, b), constants.X_OK))) missing.push(join(BIN_DIR, b));
  }
  if (!(await onPath('etcd'))) missing.push('etcd (Debian etcd-server)');
  if (missing.length) {
    throw new Error(
      `Kubernetes control plane missing: ${missing.join(', ')}. ` +
        'Run `bash ../shared/k8s/build.sh` once (about 10 minutes cold; CI runs it) and retry.',
    );
  }
}

/**
 * A real control plane for one test file: etcd, kube-apiserver, controller-manager and scheduler v1.20.2
 * started by shared/k8s/up.sh on free ports with a state directory of its own (test files run in
 * parallel), or the one AGENTFLEET_TEST_KUBECONFIG points at. Either way the file gets its own namespace.
 */
export async function startTestKubernetesCluster(): Promise<TestKubernetesCluster> {
  const k8s = await loadKubernetesClient();
  let kubeconfigPath = TEST_KUBECONFIG;
  let down: (() => Promise<void>) | undefined;
  if (!kubeconfigPath) {
    await assertBinaries();
    const scripts = await scriptsDir();
    const stateDir = await mkdtemp(join(tmpdir(), 'agentfleet-k8s-'));
    let etcdPort = await freePort();
    // etcd also listens for peers on port + 10
    while (!(await portIsFree(etcdPort + 10))) etcdPort = await freePort();
    const env = {
      ...process.env,
      K8S_BIN_DIR: BIN_DIR,
      K8S_STATE_DIR: stateDir,
      K8S_API_PORT: String(await freePort()),
      K8S_ETCD_PORT: String(etcdPort),
    };
    down = async () => {
      await run('bash', [join(scripts, 'down.sh')], { env, timeout: 60_000 });
    };
    try {
      const { stdout } = await run('bash', [join(scripts, 'up.sh')], { env, timeout: 120_000 });
      kubeconfigPath = /export KUBECONFIG=(\S+)/.exec(stdout)?.[1];
      if (!kubeconfigPath) throw new Error(`up.sh printed no KUBECONFIG: ${stdout}`);
    } catch (e) {
      await down().catch(() => undefined);
      throw new Error(
        `starting the Kubernetes control plane failed (logs were in ${stateDir}): ${String(e)}`,
        {
          cause: e,
        },
      );
    }
  }

  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const namespace = `t-${randomBytes(5).toString('hex')}`;
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  } catch (e) {
    await down?.().catch(() => undefined);
    throw e;
  }
  return {
    kubeConfig,
    kubeconfigPath,
    namespace,
    async stop() {
      if (down) {
        await down();
        return;
      }
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    },
  };
}
