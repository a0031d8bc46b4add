/**
 * deploy/compose.yaml as Docker Compose reads it: YAML with merge keys (`<<: *anchor`), then variable
 * interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `$$`) in every string
 * value, as the Compose Specification describes. Enough for the offline checks of test/e2e; the real
 * `docker compose config` is run too wherever it is installed.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
  pull_policy?: string;
  group_add?: (string | number)[];
  ports?: (string | number | Record<string, unknown>)[];
  [key: string]: unknown;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** One bind mount or named volume of a service, in the short or the long syntax. */
export interface Mount {
  kind: 'bind' | 'volume' | 'tmpfs';
  /** For binds: the absolute host path (relative ones resolved against the compose file's folder). */
  source: string;
  target: string;
  readOnly: boolean;
}

const VARIABLE =
  /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** One string with Compose's interpolation; unset and empty variables take the defaults, as with `:-`. */
export function interpolate(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(
    VARIABLE,
    (
      match,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const v = env[name];
      switch (op) {
        case ':-':
          return v ? v : interpolate(arg ?? '', env);
        case '-':
          return v !== undefined ? v : interpolate(arg ?? '', env);
        case ':?':
        case '?':
          if (v === undefined || (op === ':?' && v === ''))
            throw new Error(`\${${name}} is required: ${arg ?? ''}`);
          return v;
        case undefined:
          return v ?? '';
        default:
          throw new Error(`unsupported interpolation ${match}`);
      }
    },
  );
}

function interpolateTree(node: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateTree(n, env));
  if (node && typeof node === 'object')
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env)]));
  return node;
}

export interface LoadedCompose {
  path: string;
  dir: string;
  /** After merge keys, before interpolation. */
  raw: ComposeFile;
  /** What Compose runs with `env` (no variable set: every default). */
  resolved: ComposeFile;
}

export function loadComposeFile(path: string, env: NodeJS.ProcessEnv = {}): LoadedCompose {
  // merge: `<<` keys are YAML 1.1 merge keys, which Compose honours
  const raw = parse(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile;
  return { path, dir: dirname(path), raw, resolved: interpolateTree(raw, env) as ComposeFile };
}

/** `environment` of a service as a map (both the map and the `KEY=value` list syntax), values as strings. */
export function serviceEnvironment(s: ComposeService): Record<string, string> {
  const env = s.environment;
  if (!env) return {};
  if (Array.isArray(env))
    return Object.fromEntries(
      env.map((e) => {
        const i = e.indexOf('=');
        return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
      }),
    );
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Bind mounts and volumes of a service; `tmpfs:` entries are not mounts of files and are left out. */
export function serviceMounts(s: ComposeService, composeDir: string): Mount[] {
  return (s.volumes ?? []).map((v): Mount => {
    if (typeof v !== 'string') {
      const kind = v.type === 'volume' || v.type === 'tmpfs' ? v.type : 'bind';
      const source = v.source ?? '';
      return {
        kind,
        source: kind === 'bind' ? resolve(composeDir, source) : source,
        target: v.target,
        readOnly: v.read_only === true,
      };
    }
    const [source = '', target = '', mode = ''] = v.split(':');
    // a bind's source is a path (absolute, or relative starting with . or ~); anything else names a volume
    const bind = isAbsolute(source) || source.startsWith('.') || source.startsWith('~');
    return {
      kind: bind ? 'bind' : 'volume',
      source: bind ? resolve(composeDir, source) : source,
      target,
      readOnly: mode.split(',').includes('ro'),
    };
  });
}

/** depends_on in the long syntax (the short one means service_started). */
export function serviceDependencies(s: ComposeService): Record<string, string> {
  const d = s.depends_on;
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v.condition ?? 'service_started']));
}

/** A one-shot runs to completion: `restart: "no"` and something waits for its exit code. */
export function isOneShot(s: ComposeService): boolean {
  return s.restart === 'no';
}
