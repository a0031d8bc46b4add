/**
 * The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json), offline:
 * the npm package dclint (a Compose linter) ships a current copy as schemas/compose.schema.json. It is
 * fetched with `npm pack` (never installed), checked against the pinned integrity, and kept in a cache
 * directory — the way tools/helm/helm-toolchain.ts obtains helm.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFileFromTarGz } from '../helm/archive-readers';

const run = promisify(execFile);

const PACKAGE = {
  spec: 'dclint@3.1.0',
  entry: 'package/schemas/compose.schema.json',
  /** npm's dist.integrity of the tarball: a republished or tampered package is refused. */
  integrity:
    'sha512-afTGdzRFUXK4yCpIiEW/LOR+9TOMEDhNldDp56VCWzn7JDmD451PcUi640GGlMHgbHKJ10rDBm4PtpcBbjqlXw==',
};

/** AGENTFLEET_COMPOSE_SPEC_CACHE, else /var/cache/agentfleet/compose-spec, else node_modules/.cache. */
async function cacheDir(root: string): Promise<string> {
  const override = process.env['AGENTFLEET_COMPOSE_SPEC_CACHE'];
  const candidates = override
    ? [override]
    : ['/var/cache/agentfleet/compose-spec', join(root, 'node_modules', '.cache', 'agentfleet-compose-spec')];
  for (const dir of candidates) {
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      return dir;
    } catch {
      // not writable here: try the next one
    }
  }
  throw new Error(`no writable cache directory among ${candidates.join(', ')}`);
}

/** npm itself: the one running this process when started by `npm test`, else npm on the PATH. */
function npmCommand(): { file: string; args: string[] } {
  const cli = process.env['npm_execpath'];
  return cli && /npm-cli\.c?js$/.test(cli)
    ? { file: process.execPath, args: [cli] }
    : { file: 'npm', args: [] };
}

async function download(workDir: string): Promise<Buffer> {
  const npm = npmCommand();
  let stdout: string;
  try {
    ({ stdout } = await run(
      npm.file,
      [...npm.args, 'pack', PACKAGE.spec, '--pack-destination', workDir, '--json', '--ignore-scripts'],
      { cwd: workDir, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
    ));
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`\`npm pack ${PACKAGE.spec}\` failed${stderr ? `:\n${stderr}` : `: ${String(e)}`}`);
  }
  const packed = (JSON.parse(stdout) as { filename: string }[])[0];
  if (!packed) throw new Error(`\`npm pack ${PACKAGE.spec}\` printed no file name`);
  const tgz = await readFile(join(workDir, packed.filename.replace(/^@/, '').replace(/\//g, '-')));
  const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
  if (integrity !== PACKAGE.integrity)
    throw new Error(`${PACKAGE.spec} has integrity ${integrity}, expected ${PACKAGE.integrity}: refusing it`);
  return tgz;
}

/**
 * The schema as parsed JSON. Throws one message that says what failed and what is needed: the check
 * must fail, never skip, when the schema cannot be had.
 */
export async function obtainComposeSpecSchema(root: string): Promise<Record<string, unknown>> {
  const dir = await cacheDir(root);
  const file = join(dir, `${PACKAGE.spec.replace('@', '-')}-compose.schema.json`);
  try {
    const cached = await readFile(file, 'utf8').catch(() => undefined);
    if (cached !== undefined) return JSON.parse(cached) as Record<string, unknown>;
    const work = await mkdtemp(join(dir, '.partial-'));
    try {
      const schema = readFileFromTarGz(await download(work), PACKAGE.entry);
      JSON.parse(schema.toString('utf8')); // refuse to cache anything but JSON
      const staged = join(work, 'schema.json');
      await writeFile(staged, schema);
      // the finished file appears at once: a concurrent run never reads half of it
      await rename(staged, file);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(
      `cannot obtain the Compose Specification schema: ${e instanceof Error ? e.message : String(e)}\n` +
        `It comes from the npm package ${PACKAGE.spec} (\`npm pack\`: the npm registry must be reachable, ` +
        `as it is in CI) and is kept in ${dir} (AGENTFLEET_COMPOSE_SPEC_CACHE overrides the directory).`,
      { cause: e },
    );
  }
}
