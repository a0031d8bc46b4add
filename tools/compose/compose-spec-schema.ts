/**
 * The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json), offline:
 * the npm package dclint (a Compose linter) ships a current copy as schemas/compose.schema.json. It is
 * fetched with `npm pack` (never installed), checked against the pinned integrity, and kept in a cache
 * directory — the way tools/helm/helm-toolchain.ts obtains helm.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileFromTarGz } from '../helm/archive-readers';
import { packVerified, writableCacheDir } from '../npm-pack-cache';

const PACKAGE = {
  spec: 'dclint@3.1.0',
  entry: 'package/schemas/compose.schema.json',
  /** npm's dist.integrity of the tarball: a republished or tampered package is refused. */
  integrity:
    'sha512-afTGdzRFUXK4yCpIiEW/LOR+9TOMEDhNldDp56VCWzn7JDmD451PcUi640GGlMHgbHKJ10rDBm4PtpcBbjqlXw==',
};

/** AGENTFLEET_COMPOSE_SPEC_CACHE, else /var/cache/agentfleet/compose-spec, else node_modules/.cache. */
function cacheDir(root: string): Promise<string> {
  return writableCacheDir(root, 'compose-spec', process.env['AGENTFLEET_COMPOSE_SPEC_CACHE']);
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
      const schema = readFileFromTarGz(await packVerified(PACKAGE, work), PACKAGE.entry);
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
