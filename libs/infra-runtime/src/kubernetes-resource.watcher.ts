import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { loadKubernetesClient } from './kubernetes-client.loader';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ResourceWatcherOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/namespaces/ns/pods`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The same collection through the typed API; its resourceVersion is where the watch starts. */
  list(): Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  /** Called for every change, in order; after a relist, for every object again (handlers are idempotent). */
  onEvent(type: WatchEventType, object: T): void;
  /** The API server stayed unreachable for `unavailableMs`: the watcher has stopped. */
  onUnavailable(error: unknown): void;
  unavailableMs?: number;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * List + watch of one collection that survives what a single watch request does not: client-node's
 * 30 s inactivity timeout, the server closing the stream, a restarted API server (reconnects from the
 * last resourceVersion) and `410 Gone` (relists, and reports objects that vanished meanwhile as DELETED).
 */
export class KubernetesResourceWatcher<T extends KubernetesObject> {
  private resourceVersion: string | undefined;
  private readonly known = new Map<string, T>();
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(private readonly options: ResourceWatcherOptions<T>) {}

  /** Resolves after the first list (rejects if it fails: the API server is unusable); then watches. */
  async start(): Promise<void> {
    await this.relist();
    void this.watchLoop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private key(o: T): string {
    return o.metadata?.uid ?? `${o.metadata?.namespace}/${o.metadata?.name}`;
  }

  private async relist(): Promise<void> {
    const list = await this.options.list();
    this.resourceVersion = list.metadata?.resourceVersion;
    const seen = new Set<string>();
    for (const item of list.items) {
      seen.add(this.key(item));
      this.deliver('ADDED', item);
    }
    for (const [key, old] of [...this.known]) {
      if (!seen.has(key)) this.deliver('DELETED', old);
    }
  }

  private deliver(type: WatchEventType, object: T): void {
    if (this.stopped) return;
    if (type === 'DELETED') this.known.delete(this.key(object));
    else this.known.set(this.key(object), object);
    this.options.onEvent(type, object);
  }

  private async watchLoop(): Promise<void> {
    const { Watch } = await loadKubernetesClient();
    const watch = new Watch(this.options.kubeConfig);
    const unavailableMs = this.options.unavailableMs ?? 30_000;
    let failingSince: number | undefined;
    let backoffMs = 200;
    while (!this.stopped) {
      let gone = false;
      let received = false;
      const error = await new Promise<unknown>((resolve) => {
        watch
          .watch(
            this.options.path,
            {
              labelSelector: this.options.labelSelector,
              fieldSelector: this.options.fieldSelector,
              resourceVersion: this.resourceVersion,
              allowWatchBookmarks: true,
              // the server ends a quiet watch cleanly before client-node's 30 s inactivity abort,
              // so an idle collection is not mistaken for an unreachable API server
              timeoutSeconds: 20,
            },
            (type: string, object: T & { code?: number }) => {
              received = true;
              if (type === 'ERROR') {
                // a Status object; 410: our resourceVersion was compacted away
                if (object.code === 410) gone = true;
                return;
              }
              if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
              if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.deliver(type, object);
            },
            (err: unknown) => resolve(err ?? null),
          )
          .then((controller) => {
            this.abort = controller;
            if (this.stopped) controller.abort();
          }, resolve);
      });
      if (this.stopped) return;
      if (error === null || received) {
        failingSince = undefined;
        backoffMs = 200;
      } else {
        failingSince ??= Date.now();
        if (Date.now() - failingSince > unavailableMs) {
          this.stopped = true;
          this.options.onUnavailable(error);
          return;
        }
        await delay(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 2_000);
      }
      if (gone) {
        try {
          await this.relist();
        } catch {
          // counted as unavailability by the next watch attempt, which fails the same way
          this.resourceVersion = undefined;
        }
      }
    }
  }
}
