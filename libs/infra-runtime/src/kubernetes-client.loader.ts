import type * as KubernetesClient from '@kubernetes/client-node';

export type KubernetesClientModule = typeof KubernetesClient;

let loading: Promise<KubernetesClientModule> | undefined;

/**
 * Loads @kubernetes/client-node on first use. It is ESM-only (2.x), so importing it at the top of a file
 * would make everything that imports this lib's index pay for it and, under Jest, fail unless Jest runs
 * with `--experimental-vm-modules`; loading it lazily keeps the Docker and process runtimes unaffected.
 * Node ≥ 22.12 requires ESM natively, so production needs nothing special.
 */
export function loadKubernetesClient(): Promise<KubernetesClientModule> {
  loading ??= import('@kubernetes/client-node').catch((e: unknown) => {
    loading = undefined;
    if ((e as { code?: string }).code === 'ERR_REQUIRE_ESM') {
      throw new Error(
        '@kubernetes/client-node 2.x is an ES module and Jest loads ES modules only with ' +
          'NODE_OPTIONS=--experimental-vm-modules (on Node >= 24.9); production Node needs no flag',
        { cause: e },
      );
    }
    throw e;
  });
  return loading;
}
