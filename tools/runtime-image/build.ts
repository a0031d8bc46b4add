/**
 * Builds the agent-runtime image from local files only (no registry): `npm run build:runtime-image`.
 *
 * The image is tagged twice: `agentfleet/agent-runtime:content-<hash>` (the hash of every file, mode and
 * the image metadata) and `agentfleet/agent-runtime:dev`. When the content tag already exists, nothing is
 * built — running this again without changes takes the time of hashing the files.
 *
 * `--app-dir <dir>` writes only the /app tree (compiled app, the libs it loads, its node_modules) to
 * <dir>; deploy/docker/agent-runtime.Dockerfile uses it so both images carry the same files.
 * The Docker connection follows DOCKER_HOST (dockerode's defaults), else /var/run/docker.sock.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import Docker from 'dockerode';
import {
  IMAGE_APP_DIR,
  planAppTree,
  IMAGE_ENTRYPOINT,
  IMAGE_USER,
  hashRootfs,
  planRootfs,
  writeRootfs,
} from './rootfs-plan';

const REPOSITORY = 'agentfleet/agent-runtime';
const DEV_TAG = 'dev';
const CONTENT_TAG_PREFIX = 'content-';

/** The image metadata; part of the content hash, so changing it rebuilds. */
const DOCKERFILE = [
  'FROM scratch',
  'COPY rootfs/ /',
  // HOME on the tmpfs: the root filesystem is read-only when the runtime starts the container
  'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp NODE_ENV=production',
  `USER ${IMAGE_USER}`,
  `WORKDIR ${IMAGE_APP_DIR}`,
  `ENTRYPOINT ${JSON.stringify(IMAGE_ENTRYPOINT)}`,
  '',
].join('\n');

async function main(): Promise<void> {
  const root = resolve(__dirname, '../../..');
  if (!existsSync(join(root, 'package.json')) || !existsSync(join(root, 'dist'))) {
    throw new Error(`${root} has no package.json or dist/: run "npm run build" first`);
  }
  const args = process.argv.slice(2);
  const appDirIndex = args.indexOf('--app-dir');
  if (appDirIndex >= 0) {
    const out = args[appDirIndex + 1];
    if (!out) throw new Error('usage: build.js --app-dir <dir>');
    writeAppTree(root, resolve(out));
    return;
  }
  await buildImage(root);
}

function writeAppTree(root: string, out: string): void {
  const app = planAppTree(root);
  if (!app.hasApp) throw new Error('dist/apps/agent-runtime/src/main.js is missing: run "npm run build"');
  writeRootfs({ files: app.files, dirs: [] }, out);
  console.log(`agent-runtime app tree written to ${out} (packages: ${app.packages.join(', ') || 'none'})`);
}

async function buildImage(root: string): Promise<void> {
  const started = Date.now();
  const docker = new Docker();
  const plan = planRootfs(root);
  if (!plan.hasApp) {
    console.warn(
      'agent-runtime: dist/apps/agent-runtime/src/main.js does not exist yet; the image holds Node only ' +
        '(its entry point fails until the app is built, `node -e …` commands work)',
    );
  }
  const hash = (await hashRootfs(plan, DOCKERFILE)).slice(0, 16);
  const contentRef = `${REPOSITORY}:${CONTENT_TAG_PREFIX}${hash}`;

  if (await imageExists(docker, contentRef)) {
    await docker.getImage(contentRef).tag({ repo: REPOSITORY, tag: DEV_TAG });
    console.log(`${REPOSITORY}:${DEV_TAG} is up to date (${contentRef}, ${Date.now() - started} ms)`);
    return;
  }

  const context = mkdtempSync(join(tmpdir(), 'agentfleet-runtime-image-'));
  try {
    writeRootfs(plan, join(context, 'rootfs'));
    writeFileSync(join(context, 'Dockerfile'), DOCKERFILE);
    await dockerBuild(docker, context, contentRef, {
      'org.opencontainers.image.title': 'agentfleet agent-runtime',
      'agentfleet.content_hash': hash,
      'agentfleet.node_version': plan.nodeVersion,
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  await docker.getImage(contentRef).tag({ repo: REPOSITORY, tag: DEV_TAG });
  await removeOlderBuilds(docker, contentRef);

  const size = ((await docker.getImage(contentRef).inspect()).Size / 1024 / 1024).toFixed(1);
  console.log(
    `built ${REPOSITORY}:${DEV_TAG} (${contentRef}, Node ${plan.nodeVersion}, ${size} MB, ` +
      `packages: ${plan.packages.join(', ') || 'none'}) in ${Date.now() - started} ms`,
  );
}

/** Streams the context as a tar (system `tar`, no npm dependency) into the daemon's classic builder. */
async function dockerBuild(
  docker: Docker,
  context: string,
  ref: string,
  labels: Record<string, string>,
): Promise<void> {
  const tar = spawn('tar', ['-C', context, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarError = '';
  tar.stderr.on('data', (chunk: Buffer) => (tarError += chunk.toString()));
  const tarExit = new Promise<number | null>((resolveExit, reject) => {
    tar.on('error', reject);
    tar.on('close', resolveExit);
  });

  const output = await docker.buildImage(tar.stdout, { t: ref, labels, rm: true, forcerm: true });
  const events = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>(
    (resolveBuild, reject) =>
      docker.modem.followProgress(output, (err, result) =>
        err ? reject(err) : resolveBuild(result as never),
      ),
  );
  const code = await tarExit;
  if (code !== 0)
    throw new Error(`tar -C ${relative(process.cwd(), context)} failed (${code}): ${tarError.trim()}`);
  // the daemon reports a failed step inside a 200 response
  const failed = events.find((e) => e.error || e.errorDetail);
  if (failed) throw new Error(`docker build ${ref} failed: ${failed.errorDetail?.message ?? failed.error}`);
}

async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

/** Each change of the app adds a ~130 MB layer: drop the content tags this build replaced. */
async function removeOlderBuilds(docker: Docker, keep: string): Promise<void> {
  const images = await docker.listImages({
    filters: { reference: [`${REPOSITORY}:${CONTENT_TAG_PREFIX}*`] },
  });
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag === keep || !tag.startsWith(`${REPOSITORY}:${CONTENT_TAG_PREFIX}`)) continue;
      // a container still using it keeps it: a 409 is fine
      await docker
        .getImage(tag)
        .remove()
        .catch(() => undefined);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
