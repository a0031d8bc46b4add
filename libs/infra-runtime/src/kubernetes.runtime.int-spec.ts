import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { ATTEMPT_LABEL, JOB_LABEL, ORG_LABEL, type RunOutcome } from '@agentfleet/execution';
import {
  FakeKubelet,
  kubeletRunSpec,
  recordingRunIO,
  startTestKubernetesCluster,
  waitFor,
  type TestKubernetesCluster,
} from '@agentfleet/testing';
import { loadKubernetesClient } from './kubernetes-client.loader';
import { buildJobManifest, jobName, secretName } from './kubernetes-job.manifest';
import { KubernetesRuntime } from './kubernetes.runtime';

// A real kube-apiserver, controller-manager (the Job controller) and scheduler; the fake kubelet runs
// the pods as local processes in real memory cgroups. Commands use this Node binary, not an image.
let cluster: TestKubernetesCluster;
let kubelet: FakeKubelet;
let runtime: KubernetesRuntime;
let batch: BatchV1Api;
let core: CoreV1Api;

beforeAll(async () => {
  cluster = await startTestKubernetesCluster();
  kubelet = await FakeKubelet.start({ kubeConfig: cluster.kubeConfig });
  const k8s = await loadKubernetesClient();
  batch = cluster.kubeConfig.makeApiClient(k8s.BatchV1Api);
  core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  runtime = new KubernetesRuntime(cluster.kubeConfig, {
    namespace: cluster.namespace,
    imagePullPolicy: 'Never',
  });
}, 180_000);

afterAll(async () => {
  await kubelet?.stop();
  await cluster?.stop();
}, 120_000);

afterEach(() => {
  expect(kubelet.errors).toEqual([]);
});

async function jobGone(name: string): Promise<boolean> {
  try {
    await batch.readNamespacedJob({ name, namespace: cluster.namespace });
    return false;
  } catch (e) {
    return (e as { code?: number }).code === 404;
  }
}

const FOREVER = 'console.log("up"); setInterval(() => {}, 1000)';

describe('KubernetesRuntime against a real control plane', () => {
  it('answers ping', async () => {
    await expect(runtime.ping()).resolves.toBeUndefined();
  });

  it('creates a Job with the limits, labels, security context, backoffLimit 0 and deadline', async () => {
    const spec = kubeletRunSpec(FOREVER, {
      memoryLimitMb: 192,
      cpu: 0.25,
      timeoutMs: 42_500,
      env: { AGENT_MODE: 'test' },
    });
    const { io, started, abort } = recordingRunIO();
    const running = runtime.run(spec, io);
    await waitFor(() => started.length > 0, { timeoutMs: 30_000, what: 'container running' });
    const name = jobName(spec.jobId, spec.attempt);
    const job = await batch.readNamespacedJob({ name, namespace: cluster.namespace });

    expect(job.metadata?.labels).toMatchObject({
      [JOB_LABEL]: spec.jobId,
      [ATTEMPT_LABEL]: '1',
      [ORG_LABEL]: spec.organizationId,
    });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBe(43);
    const pod = job.spec?.template.spec;
    expect(pod?.restartPolicy).toBe('Never');
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    const container = pod?.containers[0];
    expect(container?.command).toEqual(spec.command);
    expect(container?.imagePullPolicy).toBe('Never');
    expect(container?.env).toEqual([{ name: 'AGENT_MODE', value: 'test' }]);
    expect(container?.resources).toEqual({
      limits: { memory: '192Mi', cpu: '250m' },
      requests: { memory: '192Mi', cpu: '250m' },
    });
    expect(container?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65534,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container?.volumeMounts).toEqual([expect.objectContaining({ name: 'tmp', mountPath: '/tmp' })]);
    expect(pod?.volumes).toEqual([expect.objectContaining({ name: 'tmp', emptyDir: {} })]);

    // the fake kubelet put the container's process into a memory cgroup holding the pod's limit
    const pods = await core.listNamespacedPod({
      namespace: cluster.namespace,
      labelSelector: `job-name=${name}`,
    });
    const podName = pods.items[0]?.metadata?.name ?? '';
    const proc = kubelet.podProcess(cluster.namespace, podName);
    expect(await readFile(join(proc?.cgroupDir ?? '', 'memory.limit_in_bytes'), 'utf8')).toBe(
      `${192 * 1024 * 1024}\n`,
    );
    expect((await readFile(join(proc?.cgroupDir ?? '', 'cgroup.procs'), 'utf8')).trim()).toBe(
      String(proc?.pid),
    );

    abort.abort();
    await running;
  });

  it('runs to success and streams every log line in order', async () => {
    const spec = kubeletRunSpec(
      'for (let i = 0; i < 500; i++) console.log(`line ${i}`); console.error("to stderr")',
    );
    const { io, lines, started } = recordingRunIO();
    const outcome = await runtime.run(spec, io);

    expect(outcome).toMatchObject({ exitCode: 0, oomKilled: false, timedOut: false, cancelled: false });
    expect(outcome.containerId).toBe(`${cluster.namespace}/${jobName(spec.jobId, 1)}`);
    expect(started).toEqual([outcome.containerId]);
    // Kubernetes merges stdout and stderr into one log: stderr lines arrive through onStdout too
    expect(lines.filter((l) => l.startsWith('line '))).toEqual(
      Array.from({ length: 500 }, (_, i) => `line ${i}`),
    );
    expect(lines).toContain('to stderr');
    expect(outcome.evidence['terminated']).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(outcome.finishedAt.getTime()).toBeGreaterThanOrEqual(outcome.startedAt.getTime());
    await waitFor(() => jobGone(jobName(spec.jobId, 1)), { timeoutMs: 20_000, what: 'the Job deleted' });
  });

  it('resumes a broken log stream without losing or repeating a line', async () => {
    const spec = kubeletRunSpec(
      'let i = 0; const t = setInterval(() => { console.log(`tick ${i++}`); if (i === 120) clearInterval(t); }, 15)',
    );
    const { io, lines } = recordingRunIO();
    const running = runtime.run(spec, io);
    await waitFor(() => lines.length >= 20, { timeoutMs: 30_000, what: 'first lines' });
    kubelet.dropLogStreams();
    await waitFor(() => lines.length >= 60, { timeoutMs: 30_000, what: 'more lines after a reconnect' });
    kubelet.dropLogStreams();
    const outcome = await running;

    expect(outcome.exitCode).toBe(0);
    expect(lines).toEqual(Array.from({ length: 120 }, (_, i) => `tick ${i}`));
  });

  it('reports the exit code of a failing container', async () => {
    const { io, lines } = recordingRunIO();
    const outcome = await runtime.run(kubeletRunSpec('console.log("failing"); process.exit(3)'), io);

    expect(outcome).toMatchObject({ exitCode: 3, oomKilled: false, timedOut: false, cancelled: false });
    expect(outcome.evidence['terminated']).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(outcome.evidence['job']).toMatchObject({
      conditions: [expect.objectContaining({ type: 'Failed', reason: 'BackoffLimitExceeded' })],
    });
    expect(lines).toEqual(['failing']);
  });

  it('reports oomKilled when the container allocates past its memory limit (a real cgroup OOM kill)', async () => {
    const grow =
      'const held = []; for (;;) { held.push(Buffer.alloc(16 * 1024 * 1024, 1)); console.log(`held ${held.length * 16} MiB`); }';
    const { io } = recordingRunIO();
    const outcome = await runtime.run(kubeletRunSpec(grow, { memoryLimitMb: 128 }), io);

    expect(outcome).toMatchObject({ oomKilled: true, exitCode: 137, timedOut: false, cancelled: false });
    expect(outcome.evidence['terminated']).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
  });

  it('reports timedOut when the Job controller ends the Job at its deadline (DeadlineExceeded)', async () => {
    const spec = kubeletRunSpec(FOREVER, { timeoutMs: 5_000 });
    const { io, lines } = recordingRunIO();
    const outcome = await runtime.run(spec, io);

    expect(outcome).toMatchObject({ timedOut: true, oomKilled: false, cancelled: false });
    expect(outcome.evidence['job']).toMatchObject({
      conditions: [expect.objectContaining({ type: 'Failed', reason: 'DeadlineExceeded' })],
    });
    expect(outcome.evidence['localDeadline']).toBeUndefined();
    expect(lines).toContain('up');
    await waitFor(() => jobGone(jobName(spec.jobId, 1)), { timeoutMs: 20_000, what: 'the Job deleted' });
  }, 90_000);

  it('cancel deletes the Job, stops the container and reports cancelled', async () => {
    const spec = kubeletRunSpec(FOREVER);
    const { io, started, abort } = recordingRunIO();
    const running = runtime.run(spec, io);
    await waitFor(() => started.length > 0, { timeoutMs: 30_000, what: 'container running' });
    const name = jobName(spec.jobId, 1);
    const pods = await core.listNamespacedPod({
      namespace: cluster.namespace,
      labelSelector: `job-name=${name}`,
    });
    const pid = kubelet.podProcess(cluster.namespace, pods.items[0]?.metadata?.name ?? '')?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);

    abort.abort();
    const outcome = await running;

    expect(outcome).toMatchObject({ cancelled: true, timedOut: false, oomKilled: false });
    await waitFor(() => jobGone(name), { timeoutMs: 20_000, what: 'the Job deleted' });
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 20_000, what: 'the container process gone' },
    );
  });

  it('removeOrphans deletes the Jobs labelled with the job id (an older attempt still running) and leaves others', async () => {
    const orphan = kubeletRunSpec(FOREVER);
    const other = kubeletRunSpec(FOREVER);
    const a = recordingRunIO();
    const b = recordingRunIO();
    const orphanRun = runtime.run(orphan, a.io);
    const otherRun = runtime.run(other, b.io);
    await waitFor(() => a.started.length > 0 && b.started.length > 0, {
      timeoutMs: 30_000,
      what: 'both running',
    });

    // what the next attempt's worker does first (fencing)
    await expect(runtime.removeOrphans(orphan.jobId)).resolves.toBe(1);

    const fenced: RunOutcome = await orphanRun;
    expect(fenced.cancelled).toBe(false);
    expect(fenced.evidence['jobDeleted']).toBeDefined();
    await waitFor(
      async () =>
        (
          await core.listNamespacedPod({
            namespace: cluster.namespace,
            labelSelector: `${JOB_LABEL}=${orphan.jobId}`,
          })
        ).items.length === 0,
      { timeoutMs: 20_000, what: "the orphan's pods gone" },
    );
    const remaining = await batch.listNamespacedJob({
      namespace: cluster.namespace,
      labelSelector: `${JOB_LABEL}=${other.jobId}`,
    });
    expect(remaining.items.map((j) => j.metadata?.name)).toEqual([jobName(other.jobId, 1)]);
    await expect(runtime.removeOrphans(orphan.jobId)).resolves.toBe(0);

    b.abort.abort();
    await otherRun;
  });

  describe('secret variables', () => {
    async function secretsOf(jobId: string) {
      const list = await core.listNamespacedSecret({
        namespace: cluster.namespace,
        labelSelector: `${JOB_LABEL}=${jobId}`,
      });
      return list.items;
    }

    it('passes secretEnv through a Secret the Job owns, never in the Job, and deletes it after the run', async () => {
      const value = `sk-${randomUUID()}`;
      const spec = kubeletRunSpec(
        'console.log(`key=${process.env.API_KEY} mode=${process.env.MODE}`); setTimeout(() => {}, 3000)',
        { env: { MODE: 'plain' }, secretEnv: { API_KEY: value } },
      );
      const { io, lines, started } = recordingRunIO();
      const running = runtime.run(spec, io);
      await waitFor(() => started.length > 0, { timeoutMs: 30_000, what: 'container running' });
      const name = jobName(spec.jobId, 1);
      const job = await batch.readNamespacedJob({ name, namespace: cluster.namespace });
      const secret = await core.readNamespacedSecret({
        name: secretName(spec.jobId, 1),
        namespace: cluster.namespace,
      });

      // the Job as the API server stores it: the variable only as a reference
      const stored = JSON.stringify(job);
      expect(stored).not.toContain(value);
      expect(stored).not.toContain(Buffer.from(value).toString('base64'));
      expect(job.spec?.template.spec?.containers[0]?.env).toEqual([
        { name: 'MODE', value: 'plain' },
        { name: 'API_KEY', valueFrom: { secretKeyRef: { name: secretName(spec.jobId, 1), key: 'API_KEY' } } },
      ]);
      expect(secret.type).toBe('Opaque');
      expect(secret.metadata?.labels).toMatchObject({
        [JOB_LABEL]: spec.jobId,
        [ATTEMPT_LABEL]: '1',
        [ORG_LABEL]: spec.organizationId,
      });
      expect(secret.metadata?.ownerReferences).toEqual([
        expect.objectContaining({
          apiVersion: 'batch/v1',
          kind: 'Job',
          name,
          uid: job.metadata?.uid,
          blockOwnerDeletion: false,
        }),
      ]);

      const outcome = await running;
      expect(outcome.exitCode).toBe(0);
      // the value reached the process (the fake kubelet resolved the secretKeyRef as a kubelet does)
      expect(lines).toEqual([`key=${value} mode=plain`]);
      expect(await secretsOf(spec.jobId)).toEqual([]);
    });

    it('deletes the Secret when the Job cannot be created', async () => {
      // an empty image name: the API server refuses the Job (422) after the Secret was made
      const spec = kubeletRunSpec('0', { image: '', secretEnv: { API_KEY: 'never-used' } });
      await expect(runtime.run(spec, recordingRunIO().io)).rejects.toThrow();
      expect(await secretsOf(spec.jobId)).toEqual([]);
    });

    it('deletes the Secret on cancel', async () => {
      const spec = kubeletRunSpec(FOREVER, { secretEnv: { API_KEY: 'cancelled' } });
      const { io, started, abort } = recordingRunIO();
      const running = runtime.run(spec, io);
      await waitFor(() => started.length > 0, { timeoutMs: 30_000, what: 'container running' });
      expect(await secretsOf(spec.jobId)).toHaveLength(1);
      abort.abort();
      expect(await running).toMatchObject({ cancelled: true });
      expect(await secretsOf(spec.jobId)).toEqual([]);
    });

    it("removeOrphans deletes an older attempt's Secret, even one no Job owns yet", async () => {
      const spec = kubeletRunSpec(FOREVER, { secretEnv: { API_KEY: 'older' } });
      // what an attempt that died between creating its Secret and its Job leaves behind
      await core.createNamespacedSecret({
        namespace: cluster.namespace,
        body: {
          metadata: {
            name: secretName(spec.jobId, 1),
            labels: { [JOB_LABEL]: spec.jobId, [ATTEMPT_LABEL]: '1' },
          },
          stringData: { API_KEY: 'older' },
        },
      });
      await expect(runtime.removeOrphans(spec.jobId)).resolves.toBe(0);
      expect(await secretsOf(spec.jobId)).toEqual([]);
    });

    it('re-running the same attempt replaces its left-over Secret', async () => {
      const spec = kubeletRunSpec('console.log(process.env.API_KEY)', {
        secretEnv: { API_KEY: 'second run' },
      });
      await core.createNamespacedSecret({
        namespace: cluster.namespace,
        body: {
          metadata: { name: secretName(spec.jobId, 1), labels: { [JOB_LABEL]: spec.jobId } },
          stringData: { API_KEY: 'first run' },
        },
      });
      const { io, lines } = recordingRunIO();
      const outcome = await runtime.run(spec, io);
      expect(outcome.exitCode).toBe(0);
      expect(lines).toEqual(['second run']);
      expect(await secretsOf(spec.jobId)).toEqual([]);
    });

    it('the fake kubelet leaves a container whose Secret is missing waiting (CreateContainerConfigError)', async () => {
      const spec = kubeletRunSpec(FOREVER, { secretEnv: { API_KEY: 'nowhere' } });
      const name = jobName(spec.jobId, 1);
      await batch.createNamespacedJob({
        namespace: cluster.namespace,
        body: buildJobManifest(spec, {
          namespace: cluster.namespace,
          imagePullPolicy: 'Never',
          runAsUser: 65534,
          ttlSecondsAfterFinished: 300,
          terminationGracePeriodSeconds: 10,
        }),
      });
      try {
        const waiting = await waitFor(
          async () => {
            const pods = await core.listNamespacedPod({
              namespace: cluster.namespace,
              labelSelector: `job-name=${name}`,
            });
            const pod = pods.items[0];
            const w = pod?.status?.containerStatuses?.[0]?.state?.waiting;
            return pod && w?.reason === 'CreateContainerConfigError' && { pod, waiting: w };
          },
          { timeoutMs: 30_000, what: 'CreateContainerConfigError' },
        );
        expect(waiting.waiting.message).toBe(`secret "${secretName(spec.jobId, 1)}" not found`);
        expect(kubelet.podProcess(cluster.namespace, waiting.pod.metadata?.name ?? '')?.pid).toBeUndefined();
      } finally {
        await runtime.removeOrphans(spec.jobId);
      }
    });
  });

  it('rejects run() and ping() when the API server is unreachable', async () => {
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      // a port nothing listens on
      'clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: c, context: {cluster: gone, user: u}}]',
      'current-context: c',
    ].join('\n');
    const unreachable = new KubernetesRuntime({ kubeconfig }, { namespace: cluster.namespace });
    await expect(unreachable.ping()).rejects.toThrow();
    await expect(unreachable.run(kubeletRunSpec('1'), recordingRunIO().io)).rejects.toThrow();
  });
});
