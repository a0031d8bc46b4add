/**
 * Which compiled files and node_modules packages the agent-runtime loads at run time: everything
 * reachable by `require` from dist/apps/agent-runtime, plus the packages those files name and their
 * dependencies. Tracing (rather than copying dist/ and node_modules/ wholesale) keeps the image at the
 * node binary plus a few MB, and keeps its content hash stable when an unrelated lib changes.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Compiled tests never belong in an image. */
const TEST_FILE = /\.(spec|int-spec|e2e-spec)\.js$/;
/**
 * Package files nothing loads at run time: type declarations, TypeScript sources (Node refuses to
 * strip types under node_modules anyway), source maps and docs.
 */
const PACKAGE_FILE_NOT_NEEDED = /\.(d\.[cm]?ts|[cm]?ts|map|md|markdown)$/i;
/** `require("x")` as swc's CommonJS output writes it, including compiled dynamic `import("x")`. */
const REQUIRE_CALL = /\brequire\(\s*["']([^"'`]+)["']\s*\)/g;

export interface AppFiles {
  /** Absolute host paths under `root`; the image mirrors them under /app at the same relative path. */
  files: string[];
  /** Package names the traced code needs (for the build log). */
  packages: string[];
}

/** Traces the app from every non-test file of `appDir` (a dist/ folder). Returns no files if it is not built. */
export function collectAppFiles(root: string, appDir: string): AppFiles {
  if (!existsSync(appDir)) return { files: [], packages: [] };
  const roots = listFiles(appDir).filter((f) => f.endsWith('.js') && !TEST_FILE.test(f));
  const jsFiles = new Set<string>();
  const packageDirs = new Map<string, string>(); // package dir → name
  const pending = [...roots];

  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (jsFiles.has(file)) continue;
    jsFiles.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(REQUIRE_CALL)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.') || specifier.startsWith('/')) {
        const target = resolveRelative(dirname(file), specifier);
        if (!target) throw new Error(`${relative(root, file)}: cannot resolve require("${specifier}")`);
        if (target.endsWith('.js')) pending.push(target);
        else jsFiles.add(target); // .json: copied, not traced
        continue;
      }
      if (isBuiltin(specifier)) continue;
      const name = packageName(specifier);
      if (name.startsWith('@agentfleet/')) {
        // swc rewrites workspace imports to relative paths (.swcrc "paths"); a bare one would resolve to
        // TypeScript sources through the workspace symlink and fail inside the image
        throw new Error(
          `${relative(root, file)}: require("${specifier}") was not rewritten to a relative path`,
        );
      }
      addPackage(root, dirname(file), name, packageDirs);
    }
  }

  const files = [...jsFiles];
  for (const dir of packageDirs.keys()) files.push(...listPackageFiles(dir));
  return { files: files.sort(), packages: [...new Set(packageDirs.values())].sort() };
}

/** Adds `name` as Node would resolve it from `fromDir`, then its dependencies from its own folder. */
function addPackage(root: string, fromDir: string, name: string, found: Map<string, string>): void {
  const dir = findPackageDir(root, fromDir, name);
  if (!dir) throw new Error(`package ${name} (needed by ${relative(root, fromDir) || '.'}) is not installed`);
  if (found.has(dir)) return;
  found.set(dir, name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  for (const dep of Object.keys(manifest.dependencies ?? {})) addPackage(root, dir, dep, found);
  // optional and peer dependencies are loaded when present; an absent one is the package's business
  const maybe = { ...manifest.optionalDependencies, ...manifest.peerDependencies };
  for (const dep of Object.keys(maybe)) {
    if (findPackageDir(root, dir, dep)) addPackage(root, dir, dep, found);
  }
}

/** Node's lookup: `<dir>/node_modules/<name>` from `fromDir` up to the repository root. */
function findPackageDir(root: string, fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || !dir.startsWith(root + sep)) return undefined;
  }
}

function resolveRelative(fromDir: string, specifier: string): string | undefined {
  const base = resolve(fromDir, specifier);
  for (const candidate of [base, `${base}.js`, `${base}.json`, join(base, 'index.js')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** A package's runtime files; nested node_modules are separate packages, added only when needed. */
function listPackageFiles(dir: string): string[] {
  return listFiles(dir, (name) => name !== 'node_modules').filter((f) => !PACKAGE_FILE_NOT_NEEDED.test(f));
}

function listFiles(dir: string, enter: (name: string) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (enter(entry.name)) out.push(...listFiles(path, enter));
    } else if (entry.isFile()) {
      out.push(path);
    }
  }
  return out;
}
