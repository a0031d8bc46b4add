/**
 * Offline checks of rendered manifests: each object against its OpenAPI schema (kubernetes-models and
 * its prometheus-operator and KEDA companions), then the references between the chart's own objects
 * (selectors, scale targets, role bindings, secrets) that no schema sees.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** `kind name` for messages. */
export function objectLabel(o: KubeObject): string {
  return `${o.kind} ${o.metadata.name}`;
}

/**
 * YAML documents to objects, decoded by kubectl itself (`annotate --local` removing an annotation that
 * no object has): the same YAML 1.1 decoder kubectl uses before it sends anything, so `on`/`yes`/`y`
 * turn into booleans here exactly as they would on the way to the API server, and the schema check
 * sees what the server would.
 */
export async function decodeManifests(kubectl: string, yaml: string): Promise<KubeObject[]> {
  if (!/^kind:/m.test(yaml)) return [];
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      kubectl,
      ['annotate', '--local', '-f', '-', 'agentfleet.io/chart-check-', '-o', 'json'],
      { env: { ...process.env, KUBECONFIG: '/dev/null' }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, out, err) =>
        error
          ? reject(new Error(`kubectl could not decode the manifests: ${err || error.message}`))
          : resolve(out),
    );
    child.stdin?.end(yaml);
  });
  // kubectl prints one pretty JSON object per document; only their braces stand alone at column 0
  return stdout
    .split(/^(?=\{$)/m)
    .filter((chunk) => chunk.trim())
    .map((chunk) => {
      const o = JSON.parse(chunk) as KubeObject;
      // annotate adds an empty map where there was none
      if (o.metadata.annotations && Object.keys(o.metadata.annotations).length === 0)
        delete o.metadata.annotations;
      return o;
    });
}

type ModelClass = new (data: unknown) => { validate(): void };

/** The model packages, by how they lay out their files: <package>/<apiVersion>/<Kind>.js. */
const MODEL_PACKAGES = [
  'kubernetes-models',
  '@kubernetes-models/prometheus-operator',
  '@kubernetes-models/keda',
];

/**
 * The packages are ES modules whose `exports` offer only an `import` condition: Node's own require
 * (require(esm), Node >= 22.12) loads their files by path, from compiled CommonJS and from Jest alike.
 */
const nativeRequire = createRequire(__filename);

function packageDir(name: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir)
      throw new Error(`${name} is not installed (npm ci installs it: a dev dependency)`);
  }
}

const models = new Map<string, ModelClass | null>();

function modelFor(apiVersion: string, kind: string): ModelClass | null {
  const key = `${apiVersion}/${kind}`;
  const cached = models.get(key);
  if (cached !== undefined) return cached;
  let found: ModelClass | null = null;
  for (const pkg of MODEL_PACKAGES) {
    const file = join(packageDir(pkg), apiVersion, `${kind}.js`);
    if (!existsSync(file)) continue;
    const mod = nativeRequire(file) as Record<string, ModelClass | undefined>;
    found = mod[kind] ?? null;
    break;
  }
  models.set(key, found);
  return found;
}

/** Schema problems of every object; an object of a kind no package describes is a problem too. */
export function validateAgainstSchemas(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const Model = modelFor(o.apiVersion, o.kind);
    if (!Model) {
      problems.push(
        `${objectLabel(o)}: no schema for ${o.apiVersion} ${o.kind} in ${MODEL_PACKAGES.join(', ')}`,
      );
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      // thrown in Node's own module realm (not Jest's): read the message, never instanceof
      problems.push(`${objectLabel(o)}: ${(e as { message?: string }).message ?? String(e)}`);
    }
  }
  return problems;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    containers?: {
      env?: { valueFrom?: { secretKeyRef?: { name: string }; configMapKeyRef?: { name: string } } }[];
      envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
    }[];
  };
}

function podTemplateOf(o: KubeObject): PodTemplate | undefined {
  const spec = o['spec'] as { template?: PodTemplate } | undefined;
  if (o.kind === 'Deployment') return spec?.template;
  if (o.kind === 'Job') return spec?.template;
  return undefined;
}

function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/**
 * References between the chart's objects: Services, PodDisruptionBudgets and NetworkPolicies of the
 * release select pods of a rendered workload; scale targets, role bindings and ingress backends name
 * rendered objects; every Secret, ConfigMap and ServiceAccount a pod uses is rendered or declared
 * external (an existingSecret of the values).
 */
export function checkReferences(objects: KubeObject[], externalSecrets: readonly string[]): string[] {
  const problems: string[] = [];
  const named = (kind: string, name: string) =>
    objects.some((o) => o.kind === kind && o.metadata.name === name);
  const templates = objects.map(podTemplateOf).filter((t): t is PodTemplate => t !== undefined);
  const selectsPods = (selector: Record<string, string> | undefined) =>
    templates.some((t) => selects(selector, t.metadata?.labels));

  for (const o of objects) {
    const spec = (o['spec'] ?? {}) as Record<string, unknown>;
    switch (o.kind) {
      case 'Service':
        if (!selectsPods(spec['selector'] as Record<string, string>))
          problems.push(`${objectLabel(o)} selects no pod of the chart`);
        break;
      case 'PodDisruptionBudget': {
        const sel = (spec['selector'] as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
        if (!selectsPods(sel)) problems.push(`${objectLabel(o)} selects no pod of the chart`);
        break;
      }
      case 'NetworkPolicy': {
        const sel = (spec['podSelector'] as { matchLabels?: Record<string, string> } | undefined)
          ?.matchLabels;
        // the jobs namespace's policies select the runtime's pods, which the chart does not render
        if (sel?.['app.kubernetes.io/instance'] && !selectsPods(sel))
          problems.push(`${objectLabel(o)} selects no pod of the chart`);
        break;
      }
      case 'HorizontalPodAutoscaler':
      case 'ScaledObject': {
        const target = (spec['scaleTargetRef'] as { name?: string } | undefined)?.name ?? '';
        if (!named('Deployment', target))
          problems.push(`${objectLabel(o)} scales ${target}, which the chart does not render`);
        break;
      }
      case 'RoleBinding': {
        const role = (o['roleRef'] as { name?: string } | undefined)?.name ?? '';
        if (!named('Role', role))
          problems.push(`${objectLabel(o)} binds Role ${role}, which the chart does not render`);
        for (const s of (o['subjects'] as { kind: string; name: string }[] | undefined) ?? []) {
          if (s.kind === 'ServiceAccount' && s.name !== 'default' && !named('ServiceAccount', s.name))
            problems.push(
              `${objectLabel(o)} binds ServiceAccount ${s.name}, which the chart does not render`,
            );
        }
        break;
      }
      case 'Ingress': {
        const rules =
          (spec['rules'] as
            { http?: { paths?: { backend?: { service?: { name: string } } }[] } }[] | undefined) ?? [];
        for (const p of rules.flatMap((r) => r.http?.paths ?? [])) {
          const svc = p.backend?.service?.name ?? '';
          if (!named('Service', svc))
            problems.push(`${objectLabel(o)} routes to Service ${svc}, which the chart does not render`);
        }
        break;
      }
      default:
        break;
    }
    if (o.kind === 'ScaledObject') problems.push(...checkScalingFormula(o));

    const template = podTemplateOf(o);
    if (!template) continue;
    const sa = template.spec?.serviceAccountName;
    if (sa && sa !== 'default' && !named('ServiceAccount', sa))
      problems.push(`${objectLabel(o)} runs as ServiceAccount ${sa}, which the chart does not render`);
    for (const c of template.spec?.containers ?? []) {
      const secrets = [
        ...(c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name),
        ...(c.envFrom ?? []).map((e) => e.secretRef?.name),
      ].filter((n): n is string => !!n);
      const configMaps = [
        ...(c.env ?? []).map((e) => e.valueFrom?.configMapKeyRef?.name),
        ...(c.envFrom ?? []).map((e) => e.configMapRef?.name),
      ].filter((n): n is string => !!n);
      for (const s of secrets) {
        if (!named('Secret', s) && !externalSecrets.includes(s))
          problems.push(
            `${objectLabel(o)} reads Secret ${s}, which is neither rendered nor an existingSecret`,
          );
      }
      for (const m of configMaps) {
        if (!named('ConfigMap', m))
          problems.push(`${objectLabel(o)} reads ConfigMap ${m}, which the chart does not render`);
      }
    }
  }
  return problems;
}

/** KEDA compiles the formula at admission: every name in it must be a trigger of the object. */
function checkScalingFormula(o: KubeObject): string[] {
  const spec = o['spec'] as {
    advanced?: { scalingModifiers?: { formula?: string } };
    triggers?: { name?: string; metadata?: Record<string, string> }[];
  };
  const formula = spec.advanced?.scalingModifiers?.formula;
  const triggers = spec.triggers ?? [];
  const problems: string[] = [];
  if (formula) {
    const names = new Set(triggers.map((t) => t.name));
    for (const ident of formula.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
      if (!names.has(ident))
        problems.push(`${objectLabel(o)}: scalingModifiers.formula names ${ident}, which is no trigger`);
    }
  }
  for (const t of triggers) {
    if (!t.metadata?.['listName'] || !t.metadata['address'])
      problems.push(`${objectLabel(o)}: trigger ${t.name ?? '?'} lacks listName or address`);
  }
  return problems;
}
