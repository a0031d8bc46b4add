import type {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  V1ContainerStateTerminated,
  V1ContainerStateWaiting,
  V1Job,
  V1Pod,
  V1Secret,
  VersionApi,
} from '@kubernetes/client-node';
import type { ContainerRuntime, RunIO, RunOutcome, RunSpec } from '@agentfleet/execution';
import { loadKubernetesClient, type KubernetesClientModule } from './kubernetes-client.loader';
import {
  AGENT_CONTAINER,
  buildJobManifest,
  buildSecretManifest,
  jobName,
  jobSelector,
  type JobManifestOptions,
} from './kubernetes-job.manifest';
import { KubernetesLogFollower } from './kubernetes-log.follower';
import { KubernetesResourceWatcher } from './kubernetes-resource.watcher';

export { loadKubernetesClient } from './kubernetes-client.loader';
export { AGENT_CONTAINER, jobName, jobSelector, secretName, toLabelValue } from './kubernetes-job.manifest';
export { KubernetesResourceWatcher } from './kubernetes-resource.watcher';

/** Where the cluster is, when no ready KubeConfig is passed. Exactly one of them. */
export interface KubernetesConnection {
  /** kubeconfig file contents (YAML). */
  kubeconfig?: string;
  kubeconfigPath?: string;
  /** The pod's service account (the worker runs inside the cluster). */
  inCluster?: boolean;
}

export interface KubernetesRuntimeOptions {
  /** Namespace the execution Jobs run in. */
  namespace: string;
  serviceAccountName?: string;
  /** No registry pulls by default: execution images are preloaded on the nodes. */
  imagePullPolicy?: 'IfNotPresent' | 'Never';
  /** Non-root user of the container; 65534 (nobody) by default. */
  runAsUser?: number;
  ttlSecondsAfterFinished?: number;
  terminationGracePeriodSeconds?: number;
  /**
   * Past the deadline plus this, the runtime deletes the Job itself and reports a timeout: the Job
   * controller normally does it, but a stopped controller-manager must not leave a run hanging.
   */
  deadlineGraceMs?: number;
  /** A run keeps watching through API server outages this long before it rejects. */
  apiUnavailableMs?: number;
  /** After the container ended, how long to wait for the rest of its log. */
  logDrainMs?: number;
  pingTimeoutMs?: number;
}

interface Clients {
  k8s: KubernetesClientModule;
  kubeConfig: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  version: VersionApi;
}

/** Reasons a container waits forever; waiting for the deadline would only waste the slot. */
const STUCK_WAITING = new Set([
  'ErrImageNeverPull',
  'InvalidImageName',
  'ImagePullBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits for `p` at most `ms`; the timer does not outlive the wait (it would hold the process open). */
async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function statusCode(e: unknown): number | undefined {
  const code =
    (e as { code?: unknown; statusCode?: unknown } | null)?.code ??
    (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Dates from the typed client and strings from watch events become the same plain JSON. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function agentStatus(pod: V1Pod | undefined) {
  return pod?.status?.containerStatuses?.find((s) => s.name === AGENT_CONTAINER);
}

/** What one attempt's watches have seen so far. */
class AttemptState {
  readonly pods = new Map<string, { pod: V1Pod; deleted: boolean }>();
  job: V1Job | undefined;
  jobDeleted = false;
  runningAt: Date | undefined;
  fatal: unknown;
  private wake: (() => void) | undefined;

  changed(): void {
    this.wake?.();
  }

  nextChange(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The newest pod that still exists, else the newest one seen: the Job replaces a pod deleted under it. */
  currentPod(): V1Pod | undefined {
    const all = [...this.pods.values()].sort(
      (a, b) =>
        new Date(String(a.pod.metadata?.creationTimestamp)).getTime() -
        new Date(String(b.pod.metadata?.creationTimestamp)).getTime(),
    );
    return ([...all].reverse().find((p) => !p.deleted) ?? all[all.length - 1])?.pod;
  }

  terminated(): V1ContainerStateTerminated | undefined {
    return agentStatus(this.currentPod())?.state?.terminated;
  }

  lastTerminated(): V1ContainerStateTerminated | undefined {
    return agentStatus(this.currentPod())?.lastState?.terminated;
  }

  stuckWaiting(): V1ContainerStateWaiting | undefined {
    const waiting = agentStatus(this.currentPod())?.state?.waiting;
    return waiting?.reason && STUCK_WAITING.has(waiting.reason) ? waiting : undefined;
  }

  jobFinished(): { type: string; reason?: string } | undefined {
    return this.job?.status?.conditions?.find(
      (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
    );
  }

  deadlineExceeded(): boolean {
    const f = this.jobFinished();
    return f?.type === 'Failed' && f.reason === 'DeadlineExceeded';
  }
}

/**
 * ContainerRuntime on Kubernetes: each attempt is one batch/v1 Job with a single pod.
 *
 * - Deadline: the Job's activeDeadlineSeconds, enforced by the Job controller (condition Failed,
 *   reason DeadlineExceeded → `timedOut`), so it holds even when this worker dies.
 * - OOM: the kubelet's verdict, `containerStatuses[].state|lastState.terminated.reason === 'OOMKilled'`.
 * - Output: the container log, followed through the API server. Kubernetes merges stdout and stderr
 *   into one log, so every line arrives through `io.onStdout`; `io.onStderr` is never called.
 * - The Job (and, through garbage collection, its pod) is deleted when the run ends, whatever the end.
 * - Secret variables (`spec.secretEnv`) go into a v1 Secret of the attempt, created before the Job and
 *   owned by it once the Job exists; the container refers to it by `secretKeyRef`, so no value is in the
 *   Job. The Secret is deleted with the Job, by this runtime and by the garbage collector.
 * - `containerId` is `<namespace>/<job name>`: the Job outlives pod replacements and is what fencing deletes.
 *
 * run() rejects only when the API server fails (unreachable, 5xx, forbidden, invalid object), so a
 * circuit breaker can count it; everything the container does is an outcome.
 */
export class KubernetesRuntime implements ContainerRuntime {
  readonly kind = 'kubernetes' as const;
  private clientsPromise: Promise<Clients> | undefined;
  private readonly manifestOptions: JobManifestOptions;

  constructor(
    private readonly connection: KubeConfig | KubernetesConnection,
    private readonly options: KubernetesRuntimeOptions,
  ) {
    this.manifestOptions = {
      namespace: options.namespace,
      imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent',
      runAsUser: options.runAsUser ?? 65534,
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished ?? 300,
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 10,
      ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
    };
  }

  private clients(): Promise<Clients> {
    this.clientsPromise ??= loadKubernetesClient().then((k8s) => {
      const kubeConfig = this.kubeConfig(k8s);
      return {
        k8s,
        kubeConfig,
        batch: kubeConfig.makeApiClient(k8s.BatchV1Api),
        core: kubeConfig.makeApiClient(k8s.CoreV1Api),
        version: kubeConfig.makeApiClient(k8s.VersionApi),
      };
    });
    return this.clientsPromise;
  }

  private kubeConfig(k8s: KubernetesClientModule): KubeConfig {
    // duck-typed: a KubeConfig built by another copy of the (ESM) module fails instanceof
    if ('makeApiClient' in this.connection) return this.connection;
    const c = this.connection;
    const kc = new k8s.KubeConfig();
    if (c.kubeconfig) kc.loadFromString(c.kubeconfig);
    else if (c.kubeconfigPath) kc.loadFromFile(c.kubeconfigPath);
    else if (c.inCluster) kc.loadFromCluster();
    else
      throw new Error(
        'KubernetesRuntime needs a KubeConfig, kubeconfig contents, a kubeconfig path or inCluster',
      );
    return kc;
  }

  async ping(): Promise<void> {
    const { version } = await this.clients();
    const timeoutMs = this.options.pingTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        version.getCode(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Kubernetes API server did not answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async removeOrphans(jobId: string): Promise<number> {
    const { batch, core } = await this.clients();
    const namespace = this.options.namespace;
    const labelSelector = jobSelector(jobId);
    let removed = 0;
    const jobs = await batch.listNamespacedJob({ namespace, labelSelector });
    for (const job of jobs.items) {
      if (await this.deleteJob(batch, job.metadata?.name ?? '')) removed++;
    }
    // pods whose Job is already gone (or never existed) would otherwise run on unobserved; the normal
    // grace period lets the kubelet stop them (a forced delete would only hide them from the API)
    const pods = await core.listNamespacedPod({ namespace, labelSelector });
    for (const pod of pods.items) {
      if (pod.metadata?.deletionTimestamp) continue;
      const ownedByJob = pod.metadata?.ownerReferences?.some((o) => o.kind === 'Job');
      try {
        await core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace });
        if (!ownedByJob) removed++;
      } catch (e) {
        if (statusCode(e) !== 404) throw e;
      }
    }
    // an older attempt's Secret: its Job took it along unless the attempt died between the two creates
    // (no owner yet); not counted, it runs nothing
    const secrets = await core.listNamespacedSecret({ namespace, labelSelector });
    for (const secret of secrets.items) await this.deleteSecret(core, secret);
    return removed;
  }

  /** Background propagation: the Job goes at once, the garbage collector deletes its pods. False if it was gone. */
  private async deleteJob(batch: BatchV1Api, name: string): Promise<boolean> {
    try {
      await batch.deleteNamespacedJob({
        name,
        namespace: this.options.namespace,
        propagationPolicy: 'Background',
      });
      return true;
    } catch (e) {
      if (statusCode(e) === 404) return false;
      throw e;
    }
  }

  /**
   * Deletes this very Secret: the uid precondition keeps a late cleanup from removing a newer Secret of
   * the same name (the same attempt re-run). Gone or replaced already counts as done.
   */
  private async deleteSecret(core: CoreV1Api, secret: V1Secret): Promise<void> {
    const uid = secret.metadata?.uid;
    try {
      await core.deleteNamespacedSecret({
        name: secret.metadata?.name ?? '',
        namespace: this.options.namespace,
        ...(uid ? { body: { preconditions: { uid } } } : {}),
      });
    } catch (e) {
      const code = statusCode(e);
      if (code !== 404 && code !== 409) throw e;
    }
  }

  /**
   * Creates the attempt's Secret. One of the same name is this attempt's from a run before (a redelivered
   * queue job): it is deleted and created anew rather than updated, so a garbage collector acting on the
   * old one's owner (that run's Job) cannot take the new one with it.
   */
  private async createSecret(clients: Clients, manifest: V1Secret): Promise<V1Secret> {
    const { core } = clients;
    const name = manifest.metadata?.name ?? '';
    return createReplacing(
      () => core.createNamespacedSecret({ namespace: this.options.namespace, body: manifest }),
      () => this.deleteSecret(core, { metadata: { name } }),
    );
  }

  /** Makes the Job the Secret's owner: deleting the Job (by anyone) lets the garbage collector remove it. */
  private async ownSecret(clients: Clients, secret: V1Secret, job: V1Job): Promise<void> {
    const { core, k8s } = clients;
    try {
      await core.patchNamespacedSecret(
        {
          name: secret.metadata?.name ?? '',
          namespace: this.options.namespace,
          body: [
            // only the Secret this run created: a patch never lands on a newer one of the same name
            { op: 'test', path: '/metadata/uid', value: secret.metadata?.uid },
            {
              op: 'add',
              path: '/metadata/ownerReferences',
              value: [
                {
                  apiVersion: 'batch/v1',
                  kind: 'Job',
                  name: job.metadata?.name,
                  uid: job.metadata?.uid,
                  blockOwnerDeletion: false,
                },
              ],
            },
          ],
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
    } catch (e) {
      // gone already (fencing by another worker deleted it): nothing left to own; the Job goes the same way
      if (statusCode(e) !== 404) throw e;
    }
  }

  /** Deletes the attempt's Job, then its Secret (the pod has read its variables by then, or never will). */
  private async removeAttempt(clients: Clients, name: string, secret: V1Secret | undefined): Promise<void> {
    await this.deleteJob(clients.batch, name);
    if (secret) await this.deleteSecret(clients.core, secret);
  }

  /** Creates the Job; a Job of the same name is this very attempt run before (a redelivered queue job), so it is replaced. */
  private async createJob(clients: Clients, manifest: V1Job): Promise<V1Job> {
    const { batch } = clients;
    const name = manifest.metadata?.name ?? '';
    return createReplacing(
      () => batch.createNamespacedJob({ namespace: this.options.namespace, body: manifest }),
      () => this.deleteJob(batch, name),
    );
  }

  async run(spec: RunSpec, io: RunIO): Promise<RunOutcome> {
    const clients = await this.clients();
    const namespace = this.options.namespace;
    const name = jobName(spec.jobId, spec.attempt);
    const containerId = `${namespace}/${name}`;
    const createdAt = new Date();
    if (io.signal.aborted) return this.cancelledBeforeStart(containerId, createdAt);

    // the Secret first: the Job's pod may start at once and needs it to get its variables
    const secretManifest = buildSecretManifest(spec, this.manifestOptions);
    const secret = secretManifest && (await this.createSecret(clients, secretManifest));
    let job: V1Job;
    try {
      job = await this.createJob(clients, buildJobManifest(spec, this.manifestOptions));
    } catch (e) {
      if (secret) await this.deleteSecret(clients.core, secret).catch(() => undefined);
      throw e;
    }
    const state = new AttemptState();
    state.job = job;
    const onAbort = () => state.changed();
    io.signal.addEventListener('abort', onAbort);
    let follower: KubernetesLogFollower | undefined;
    const watchers: { start(): Promise<void>; stop(): void }[] = [];
    const stopAll = () => {
      io.signal.removeEventListener('abort', onAbort);
      follower?.stop();
      for (const w of watchers) w.stop();
    };

    try {
      if (secret) await this.ownSecret(clients, secret, job);
      const uid = job.metadata?.uid ?? '';
      const unavailableMs = this.options.apiUnavailableMs ?? 30_000;
      const onUnavailable = (e: unknown) => {
        state.fatal ??= e;
        state.changed();
      };
      watchers.push(
        new KubernetesResourceWatcher<V1Job>({
          kubeConfig: clients.kubeConfig,
          path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
          fieldSelector: `metadata.name=${name}`,
          list: () => clients.batch.listNamespacedJob({ namespace, fieldSelector: `metadata.name=${name}` }),
          onEvent: (type, j) => {
            if (j.metadata?.uid !== uid) return;
            if (type === 'DELETED') state.jobDeleted = true;
            else state.job = j;
            state.changed();
          },
          onUnavailable,
          unavailableMs,
        }),
        new KubernetesResourceWatcher<V1Pod>({
          kubeConfig: clients.kubeConfig,
          path: `/api/v1/namespaces/${namespace}/pods`,
          labelSelector: `controller-uid=${uid}`,
          list: () => clients.core.listNamespacedPod({ namespace, labelSelector: `controller-uid=${uid}` }),
          onEvent: (type, pod) => {
            state.pods.set(pod.metadata?.uid ?? '', { pod, deleted: type === 'DELETED' });
            state.changed();
          },
          onUnavailable,
          unavailableMs,
        }),
      );
      for (const w of watchers) await w.start();

      const localDeadline = createdAt.getTime() + spec.timeoutMs + (this.options.deadlineGraceMs ?? 30_000);
      let terminatedSince: number | undefined;
      let localTimeout = false;
      let followedPod: string | undefined;

      for (;;) {
        if (io.signal.aborted) {
          await this.removeAttempt(clients, name, secret);
          stopAll();
          return this.outcome(state, containerId, createdAt, {
            cancelled: true,
            logError: follower?.lastError,
          });
        }
        if (state.fatal !== undefined) {
          throw state.fatal instanceof Error
            ? state.fatal
            : new Error(`Kubernetes API server unavailable: ${JSON.stringify(state.fatal)}`);
        }

        const pod = state.currentPod();
        const status = agentStatus(pod);
        if (
          pod &&
          (status?.state?.running || status?.state?.terminated) &&
          followedPod !== pod.metadata?.name
        ) {
          // a replacement pod gets its own follower; the old pod's log is complete or gone
          follower?.stop();
          followedPod = pod.metadata?.name ?? '';
          const followed = followedPod;
          follower = new KubernetesLogFollower({
            kubeConfig: clients.kubeConfig,
            namespace,
            pod: followed,
            container: AGENT_CONTAINER,
            onLine: (line) => io.onStdout(line),
            isTerminated: () =>
              state.currentPod()?.metadata?.name !== followed || state.terminated() !== undefined,
          });
          if (!state.runningAt) {
            state.runningAt = new Date();
            io.onStarted?.(containerId);
          }
        }

        if (state.jobFinished() || state.jobDeleted || state.stuckWaiting()) break;
        if (state.terminated()) {
          // the Job controller's verdict follows the pod's status within moments: it names a
          // deadline kill (DeadlineExceeded) and completes the evidence; the log drains meanwhile
          terminatedSince ??= Date.now();
          if (Date.now() - terminatedSince > 5_000) break;
        }
        if (Date.now() > localDeadline) {
          localTimeout = true;
          break;
        }
        await state.nextChange(1_000);
      }

      if (state.jobFinished() && !state.terminated()) {
        // the Job's watch may run ahead of the pod's: read the pod's last status directly
        const pods = await clients.core.listNamespacedPod({
          namespace,
          labelSelector: `controller-uid=${uid}`,
        });
        for (const p of pods.items) {
          const known = state.pods.get(p.metadata?.uid ?? '');
          state.pods.set(p.metadata?.uid ?? '', { pod: p, deleted: known?.deleted ?? false });
        }
      }
      if (follower && state.terminated()) {
        // the log stream ends at the container's end; bounded, as the pod may be deleted meanwhile
        await atMost(follower.done, this.options.logDrainMs ?? 5_000);
      }
      stopAll();
      let cleanupError: string | undefined;
      try {
        await this.removeAttempt(clients, name, secret);
      } catch (e) {
        // the outcome is known; a left-over Job or Secret is removed by the next removeOrphans (a Secret
        // owned by a deleted Job also by the garbage collector)
        cleanupError = e instanceof Error ? e.message : String(e);
      }
      return this.outcome(state, containerId, createdAt, {
        cancelled: false,
        localTimeout,
        logError: follower?.lastError,
        cleanupError,
      });
    } catch (e) {
      stopAll();
      await this.removeAttempt(clients, name, secret).catch(() => undefined);
      throw e;
    }
  }

  private cancelledBeforeStart(containerId: string, createdAt: Date): RunOutcome {
    const now = new Date();
    return {
      containerId,
      exitCode: null,
      oomKilled: false,
      timedOut: false,
      cancelled: true,
      evidence: { cancelledBeforeCreate: true },
      peakMemoryMb: null,
      startLatencyMs: 0,
      startedAt: createdAt,
      finishedAt: now,
    };
  }

  private outcome(
    state: AttemptState,
    containerId: string,
    createdAt: Date,
    extra: {
      cancelled: boolean;
      localTimeout?: boolean;
      logError?: string | undefined;
      cleanupError?: string | undefined;
    },
  ): RunOutcome {
    const finishedAt = new Date();
    const pod = state.currentPod();
    const terminated = state.terminated();
    const lastTerminated = state.lastTerminated();
    const finished = state.jobFinished();
    const timedOut = !extra.cancelled && (state.deadlineExceeded() || extra.localTimeout === true);
    const evidence: Record<string, unknown> = {
      job: {
        name: state.job?.metadata?.name,
        uid: state.job?.metadata?.uid,
        conditions: plain(state.job?.status?.conditions) ?? [],
        active: state.job?.status?.active,
        succeeded: state.job?.status?.succeeded,
        failed: state.job?.status?.failed,
      },
      pod: pod
        ? {
            name: pod.metadata?.name,
            phase: pod.status?.phase,
            reason: pod.status?.reason,
            nodeName: pod.spec?.nodeName,
          }
        : null,
      terminated: plain(terminated) ?? null,
      lastTerminated: plain(lastTerminated) ?? null,
    };
    const waiting = state.stuckWaiting();
    if (waiting) evidence['waiting'] = plain(waiting);
    if (extra.localTimeout)
      evidence['localDeadline'] = 'the Job controller did not end the Job by its deadline';
    if (state.jobDeleted && !finished)
      evidence['jobDeleted'] = 'the Job was deleted by someone else (fencing)';
    if (extra.logError) evidence['logStreamError'] = extra.logError;
    if (extra.cleanupError) evidence['cleanupError'] = extra.cleanupError;
    return {
      containerId,
      exitCode: terminated?.exitCode ?? null,
      oomKilled: terminated?.reason === 'OOMKilled' || lastTerminated?.reason === 'OOMKilled',
      timedOut,
      cancelled: extra.cancelled,
      evidence,
      // the API has no memory peak; it would need metrics-server, which is sampled and not a peak
      peakMemoryMb: null,
      // never started: the whole wait is the latency, which is what the histogram should see
      startLatencyMs: (state.runningAt ?? finishedAt).getTime() - createdAt.getTime(),
      startedAt: state.runningAt ?? createdAt,
      finishedAt,
    };
  }
}

/**
 * Creates an object; one of the same name (409) is left from an earlier run of the same attempt, so it
 * is deleted and the create tried again (its deletion may take a moment to finish).
 */
async function createReplacing<T>(create: () => Promise<T>, remove: () => Promise<unknown>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await create();
    } catch (e) {
      if (statusCode(e) !== 409 || tries >= 40) throw e;
      await remove();
      await delay(250);
    }
  }
}
