/**
 * The agent-runtime image's root filesystem, planned from local files only (no registry is needed):
 * the Node binary from node_modules, the shared libraries `ldd` lists for it, CA certificates, a passwd
 * and group with the unprivileged user, /tmp, and the traced app under /app.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { collectAppFiles } from './app-files';

export const IMAGE_NODE_PATH = '/usr/local/bin/node';
export const IMAGE_APP_DIR = '/app';
export const IMAGE_ENTRYPOINT = ['node', `${IMAGE_APP_DIR}/dist/apps/agent-runtime/src/main.js`];
/** nobody:nogroup, the user every runtime defaults to; the image names it so tools that look it up work. */
export const IMAGE_USER = '65534:65534';
const MIN_NODE_MAJOR = 24;
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface RootfsFile {
  /** Absolute path inside the image. */
  path: string;
  mode: number;
  /** Host file to copy, or literal content. */
  source?: string;
  content?: string;
}

export interface RootfsPlan {
  files: RootfsFile[];
  dirs: { path: string; mode: number }[];
  nodeVersion: string;
  /** The app's entry point exists (it is built by another project and may be missing in a fresh tree). */
  hasApp: boolean;
  packages: string[];
}

/** The /app tree alone (paths relative to /app): what deploy/docker/agent-runtime.Dockerfile copies. */
export function planAppTree(root: string): { files: RootfsFile[]; hasApp: boolean; packages: string[] } {
  const app = collectAppFiles(root, join(root, 'dist/apps/agent-runtime'));
  const files: RootfsFile[] = app.files.map((file) => ({
    path: `/${relative(root, file)}`,
    mode: 0o644,
    source: file,
  }));
  // the compiled output is CommonJS; saying so spares Node's module-syntax detection
  files.push({ path: '/package.json', mode: 0o644, content: '{ "private": true, "type": "commonjs" }\n' });
  return {
    files,
    hasApp: existsSync(join(root, 'dist/apps/agent-runtime/src/main.js')),
    packages: app.packages,
  };
}

/** Plans the whole root filesystem. `root` is the repository root with dist/ already compiled. */
export function planRootfs(root: string): RootfsPlan {
  const node = findNodeBinary(root);
  const nodeVersion = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  const major = Number(nodeVersion.split('.')[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new Error(
      `${node} is Node ${nodeVersion}; the agent-runtime image needs Node ${MIN_NODE_MAJOR}+ (npm devDependency "node")`,
    );
  }

  const files: RootfsFile[] = [{ path: IMAGE_NODE_PATH, mode: 0o755, source: node }];
  for (const lib of sharedLibraries(node)) files.push({ path: lib, mode: 0o755, source: realpathSync(lib) });
  if (existsSync(CA_BUNDLE)) files.push({ path: CA_BUNDLE, mode: 0o644, source: realpathSync(CA_BUNDLE) });
  files.push(
    {
      path: '/etc/passwd',
      mode: 0o644,
      content:
        'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n',
    },
    { path: '/etc/group', mode: 0o644, content: 'root:x:0:\nnogroup:x:65534:\n' },
    // glibc reads this for getaddrinfo/getpwnam; files+dns is what a minimal distro ships
    { path: '/etc/nsswitch.conf', mode: 0o644, content: 'passwd: files\ngroup: files\nhosts: files dns\n' },
  );
  const app = planAppTree(root);
  for (const file of app.files) files.push({ ...file, path: `${IMAGE_APP_DIR}${file.path}` });

  return {
    files: files.sort((x, y) => x.path.localeCompare(y.path)),
    // /tmp is a tmpfs at run time (read-only root); it exists here so the image also runs without one
    dirs: [{ path: '/tmp', mode: 0o1777 }],
    nodeVersion,
    hasApp: app.hasApp,
    packages: app.packages,
  };
}

/** SHA-256 over every path, mode and content byte of the plan plus `extra` (the image metadata). */
export async function hashRootfs(plan: RootfsPlan, extra: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`${extra}\0`);
  for (const dir of plan.dirs) hash.update(`d ${dir.path} ${dir.mode}\0`);
  for (const file of plan.files) {
    hash.update(`f ${file.path} ${file.mode}\0`);
    if (file.content !== undefined) hash.update(file.content);
    else await hashFile(hash, file.source!);
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Writes the plan under `dir` (an empty temporary folder). */
export function writeRootfs(plan: Pick<RootfsPlan, 'files' | 'dirs'>, dir: string): void {
  for (const d of plan.dirs) {
    mkdirSync(join(dir, d.path), { recursive: true });
    chmodSync(join(dir, d.path), d.mode); // chmod after mkdir: the umask would drop the sticky bit
  }
  for (const file of plan.files) {
    const target = join(dir, file.path);
    mkdirSync(dirname(target), { recursive: true });
    if (file.content !== undefined) writeFileSync(target, file.content);
    else copyFileSync(file.source!, target);
    chmodSync(target, file.mode);
  }
}

/**
 * The real Node binary of the npm package `node` (what `npm run` puts first on PATH), whatever Node runs
 * this script; the process's own binary only when it is not installed.
 */
function findNodeBinary(root: string): string {
  try {
    const candidate = join(dirname(require.resolve('node/package.json', { paths: [root] })), 'bin', 'node');
    if (isElf(candidate)) return realpathSync(candidate);
  } catch {
    // not installed: fall through
  }
  return process.execPath;
}

function isElf(path: string): boolean {
  if (!existsSync(path)) return false;
  const fd = openSync(realpathSync(path), 'r');
  try {
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** Absolute paths `ldd` lists (the loader included, the kernel's vDSO excluded). */
function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch (e) {
    throw new Error(
      `ldd ${binary} failed (a glibc host with ldd is needed to build the image): ${(e as Error).message}`,
    );
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    if (line.includes('not found')) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (path) libs.push(path);
  }
  if (!libs.length) throw new Error(`ldd ${binary} listed no libraries; is it a static or non-ELF binary?`);
  return libs;
}

function hashFile(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise());
  });
}
