/**
 * `kubectl apply --dry-run=server` of every value set against a real Kubernetes v1.20 control plane
 * (shared/k8s, started on free ports by libs/testing). The API server admits and defaults each object and
 * kubectl validates it against the server's OpenAPI schema, unknown fields included. Kinds v1.20 does not
 * serve (policy/v1, autoscaling/v2, the CRDs) are skipped and reported.
 */
import { startTestKubernetesCluster } from '@agentfleet/testing';
import { type ChartCheck, exec, renderObjects } from './chart-context';
import type { KubeObject } from './manifest-validation';

/**
 * The kinds the server serves in an apiVersion (discovery) and whether each is namespaced. An apiVersion
 * the server does not know is an empty map; any other failure is an error, never a silent skip.
 */
async function servedKinds(
  kubectl: string,
  env: NodeJS.ProcessEnv,
  apiVersion: string,
): Promise<Map<string, boolean>> {
  const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const out = await exec(kubectl, ['get', '--raw', path], env);
  if (out.code !== 0) {
    if (out.stderr.includes('NotFound')) return new Map();
    throw new Error(`discovery of ${apiVersion} failed: ${out.stderr}`);
  }
  const list = JSON.parse(out.stdout) as { resources: { name: string; kind: string; namespaced: boolean }[] };
  return new Map(list.resources.filter((r) => !r.name.includes('/')).map((r) => [r.kind, r.namespaced]));
}

export const serverDryRun: ChartCheck = {
  name: 'kubectl apply --dry-run=server against a real Kubernetes v1.20 control plane',
  timeoutMs: 300_000,
  async run(ctx) {
    const notes: string[] = [];
    const skippedNotes: string[] = [];
    const { kubectl } = ctx.tools;
    const cluster = await startTestKubernetesCluster();
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath };
    const createdNamespaces: string[] = [];
    try {
      const version = await exec(kubectl, ['version', '-o', 'json'], env);
      const server =
        (JSON.parse(version.stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion
          ?.gitVersion ?? '?';
      const served = new Map<string, Map<string, boolean>>();
      const helm = ctx.tools.helms[0];
      if (!helm) throw new Error('no helm');
      for (const set of ctx.valueSets) {
        // the test cluster's fresh namespace stands in for the release namespace
        const objects = await renderObjects(ctx, helm, set, cluster.namespace);
        const skipped = new Map<string, number>();
        const apply: KubeObject[] = [];
        for (const o of objects) {
          if (!served.has(o.apiVersion))
            served.set(o.apiVersion, await servedKinds(kubectl, env, o.apiVersion));
          const namespaced = served.get(o.apiVersion)?.get(o.kind);
          if (namespaced === undefined) {
            const key = `${o.kind} (${o.apiVersion})`;
            skipped.set(key, (skipped.get(key) ?? 0) + 1);
            continue;
          }
          // helm install puts namespaced objects that name none into the release namespace
          if (namespaced) o.metadata.namespace ??= cluster.namespace;
          apply.push(o);
        }
        // namespaces the chart makes must exist for the dry run of what goes into them
        for (const ns of apply.filter((o) => o.kind === 'Namespace')) {
          const exists = await exec(kubectl, ['get', 'namespace', ns.metadata.name], env);
          if (exists.code !== 0) {
            const created = await exec(kubectl, ['create', '-f', '-'], env, JSON.stringify(ns));
            if (created.code !== 0)
              throw new Error(`creating namespace ${ns.metadata.name}: ${created.stderr}`);
            createdNamespaces.push(ns.metadata.name);
          }
        }
        const list = { apiVersion: 'v1', kind: 'List', items: apply.filter((o) => o.kind !== 'Namespace') };
        if (list.items.length === 0) throw new Error(`${set.name}: nothing the server serves was rendered`);
        const out = await exec(kubectl, ['apply', '--dry-run=server', '-f', '-'], env, JSON.stringify(list));
        const accepted = out.stdout.split('\n').filter((l) => l.endsWith('(server dry run)')).length;
        if (out.code !== 0 || accepted !== list.items.length) {
          throw new Error(
            `${set.name}: the API server refused the manifests (${accepted}/${list.items.length} accepted):\n${out.stderr}${out.stdout}`,
          );
        }
        const made = apply.length - list.items.length;
        notes.push(
          `${set.name}: ${accepted} objects accepted by ${server}` +
            (made ? ` (+ ${made} namespace(s) created)` : ''),
        );
        if (skipped.size) {
          const kinds = [...skipped].map(([k, n]) => (n > 1 ? `${k}×${n}` : k)).join(', ');
          skippedNotes.push(`${set.name}: not served by ${server}, so not dry-run: ${kinds}`);
        }
      }
      return { notes, skipped: skippedNotes };
    } finally {
      for (const ns of createdNamespaces)
        await exec(kubectl, ['delete', 'namespace', ns, '--wait=false'], env);
      await cluster.stop();
    }
  },
};
