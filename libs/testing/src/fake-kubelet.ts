import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type {
  CoreV1Api,
  KubeConfig,
  V1Container,
  V1Pod,
  V1Secret,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { KubernetesResourceWatcher, loadKubernetesClient } from '@agentfleet/infra-runtime';

export interface FakeKubeletOptions {
  kubeConfig: KubeConfig;
  nodeName?: string;
  /** Parent of the per-pod memory cgroups (cgroup v1). */
  cgroupRoot?: string;
  capacity?: { cpu: string; memory: string; pods: string };
}

interface LogEntry {
  nanos: bigint;
  text: string;
  newline: boolean;
}

/** One pod's container as a local process. */
interface PodProcess {
  namespace: string;
  name: string;
  uid: string;
  container: string;
  child: ChildProcess | undefined;
  cgroupDir: string;
  log: LogEntry[];
  followers: Set<(entry: LogEntry | 'end') => void>;
  startedAt: string;
  exited: Promise<void>;
  hasExited: boolean;
  deleting: boolean;
  /** Status patches in the order issued: a fast exit's Terminated must not be overwritten by Running. */
  statusChain: Promise<void>;
}

const run = promisify(execFile);

/** Monotonic nanosecond clock anchored to wall time: log lines stamped by it sort in the order written. */
const clockBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const nowNanos = () => clockBase + process.hrtime.bigint();

function rfc3339Nano(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

function parseRfc3339(ts: string): bigint | undefined {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  return Number.isNaN(seconds)
    ? undefined
    : BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes memory quantity ("256Mi", "1G", "1048576") in bytes. */
export function memoryQuantityBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity.trim());
  if (!m) throw new Error(`unsupported memory quantity ${quantity}`);
  return Math.ceil(Number(m[1]) * (SUFFIX[m[2] ?? ''] ?? 1));
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True if `p` settled within `ms`; the timer is cleared either way, so it never holds the process open. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    p.then(() => true),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/**
 * Plays a node for a real control plane that has no kubelet (see shared/k8s/README.md): registers a
 * Ready, untainted Node; runs each pod bound to it as a local process (the image is ignored, the
 * command runs with the host's tools; env `secretKeyRef`s are read from their Secrets) inside a cgroup
 * v1 memory cgroup holding the pod's memory limit, so an allocation past it is killed by the kernel; a
 * missing Secret or key leaves the container waiting (CreateContainerConfigError); reports pod status
 * as a kubelet does (Running, then Succeeded/Failed with Completed/Error/OOMKilled); kills the process
 * when the pod is deleted; and serves the kubelet's log endpoint over HTTPS so the API server's log
 * proxy (and client code using it) works.
 * Needs root and a writable cgroup v1 memory hierarchy.
 */
export class FakeKubelet {
  readonly nodeName: string;
  /** Problems the kubelet hit while managing pods; a test can assert it stayed empty. */
  readonly errors: string[] = [];
  private readonly cgroupRoot: string;
  private readonly pods = new Map<string, PodProcess>();
  private server: Server | undefined;
  private watcher: KubernetesResourceWatcher<V1Pod> | undefined;
  private core!: CoreV1Api;
  private mergePatch!: ReturnType<typeof setHeaderOptions>;
  private stopped = false;

  private constructor(private readonly options: FakeKubeletOptions) {
    this.nodeName = options.nodeName ?? `fake-node-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.cgroupRoot = join(
      options.cgroupRoot ?? '/sys/fs/cgroup/memory/agentfleet-fake-kubelet',
      this.nodeName,
    );
  }

  static async start(options: FakeKubeletOptions): Promise<FakeKubelet> {
    const kubelet = new FakeKubelet(options);
    try {
      await kubelet.boot();
    } catch (e) {
      await kubelet.stop();
      throw e;
    }
    return kubelet;
  }

  /** Pods it runs or ran, by namespace/name (for assertions such as "the process ran in a cgroup"). */
  podProcess(namespace: string, name: string): { pid: number | undefined; cgroupDir: string } | undefined {
    const p = this.byName(namespace, name);
    return p && { pid: p.child?.pid, cgroupDir: p.cgroupDir };
  }

  /** Ends every open follow stream now, as a restarting API server or kubelet does. */
  dropLogStreams(): void {
    for (const p of this.pods.values()) {
      for (const f of [...p.followers]) f('end');
    }
  }

  private byName(namespace: string, name: string): PodProcess | undefined {
    return [...this.pods.values()].reverse().find((p) => p.namespace === namespace && p.name === name);
  }

  private async boot(): Promise<void> {
    const k8s = await loadKubernetesClient();
    this.core = this.options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    await mkdir(this.cgroupRoot, { recursive: true });
    const port = await this.serveLogs();

    await this.core.createNode({
      body: {
        metadata: {
          name: this.nodeName,
          labels: {
            'kubernetes.io/hostname': this.nodeName,
            'kubernetes.io/os': 'linux',
            'agentfleet.io/fake-kubelet': 'true',
          },
        },
      },
    });
    const now = new Date().toISOString();
    const capacity = this.options.capacity ?? { cpu: '8', memory: '16Gi', pods: '110' };
    const condition = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: `fake kubelet: ${reason}`,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    await this.core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            capacity,
            allocatable: capacity,
            conditions: [
              condition('Ready', 'True', 'KubeletReady'),
              condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
              condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
              condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
            ],
            // the API server proxies logs to the first usable address and this port
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: port } },
            nodeInfo: {
              kubeletVersion: 'v1.20.2-fake',
              kubeProxyVersion: 'v1.20.2-fake',
              operatingSystem: 'linux',
              architecture: process.arch === 'x64' ? 'amd64' : process.arch,
              containerRuntimeVersion: 'fake://1',
              osImage: 'fake-kubelet',
              kernelVersion: '',
              machineID: '',
              systemUUID: '',
              bootID: '',
            },
          },
        },
      },
      this.mergePatch,
    );
    // the API server taints new nodes not-ready; the node lifecycle controller that would lift it is off
    await this.core.patchNode({ name: this.nodeName, body: { spec: { taints: null } } }, this.mergePatch);

    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    this.watcher = new KubernetesResourceWatcher<V1Pod>({
      kubeConfig: this.options.kubeConfig,
      path: '/api/v1/pods',
      fieldSelector,
      list: () => this.core.listPodForAllNamespaces({ fieldSelector }),
      onEvent: (type, pod) => this.onPod(type, pod),
      onUnavailable: (e) => this.errors.push(`pod watch gave up: ${String(e)}`),
      unavailableMs: 120_000,
    });
    await this.watcher.start();
  }

  private async serveLogs(): Promise<number> {
    const dir = await mkdtemp(join(tmpdir(), 'fake-kubelet-'));
    try {
      await run('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
        '-subj', `/CN=${this.nodeName}`, '-addext', 'subjectAltName=IP:127.0.0.1',
      ]); // prettier-ignore
      const [key, cert] = await Promise.all([
        readFile(join(dir, 'key.pem')),
        readFile(join(dir, 'cert.pem')),
      ]);
      this.server = createServer({ key, cert }, (req, res) => this.handleLogRequest(req.url ?? '/', res));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('log server has no port');
    return address.port;
  }

  /** GET /containerLogs/{namespace}/{pod}/{container}?follow&timestamps&sinceTime&tailLines, as the kubelet. */
  private handleLogRequest(url: string, res: ServerResponse): void {
    const u = new URL(url, 'https://127.0.0.1');
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(u.pathname);
    if (!m) {
      res.writeHead(404).end('not found');
      return;
    }
    const [, namespace = '', name = '', container = ''] = m.map(decodeURIComponent);
    const p = this.byName(namespace, name);
    if (!p || p.container !== container) {
      res.writeHead(404).end(`container "${container}" in pod "${name}" not found`);
      return;
    }
    if (!p.child) {
      res
        .writeHead(400)
        .end(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
      return;
    }
    const timestamps = u.searchParams.get('timestamps') === 'true';
    const since = parseRfc3339(u.searchParams.get('sinceTime') ?? '');
    const tail = u.searchParams.get('tailLines');
    const format = (e: LogEntry) =>
      `${timestamps ? `${rfc3339Nano(e.nanos)} ` : ''}${e.text}${e.newline ? '\n' : ''}`;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    let entries = p.log.filter((e) => since === undefined || e.nanos >= since);
    if (tail !== null) entries = entries.slice(-Number(tail));
    for (const e of entries) res.write(format(e));
    if (u.searchParams.get('follow') !== 'true' || p.hasExited) {
      res.end();
      return;
    }
    const follower = (e: LogEntry | 'end') => {
      if (e === 'end') {
        p.followers.delete(follower);
        res.end();
      } else res.write(format(e));
    };
    p.followers.add(follower);
    res.on('close', () => p.followers.delete(follower));
  }

  private onPod(type: string, pod: V1Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata?.uid ?? '';
    const known = this.pods.get(uid);
    if (type === 'DELETED') {
      if (known) {
        known.deleting = true;
        void this.kill(known);
      }
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (known?.deleting) return;
      if (known) known.deleting = true;
      // a running process is finalized by onExit; anything else can go at once
      if (known && !known.hasExited)
        void this.terminate(known, pod.metadata.deletionGracePeriodSeconds ?? 30);
      else void this.finalizeDeletion(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
      return;
    }
    const phase = pod.status?.phase;
    if (!known && phase !== 'Succeeded' && phase !== 'Failed') {
      this.startPod(pod).catch((e: unknown) => this.errors.push(`start ${pod.metadata?.name}: ${String(e)}`));
    }
  }

  private async startPod(pod: V1Pod): Promise<void> {
    const container = pod.spec?.containers[0] as V1Container;
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const uid = pod.metadata?.uid ?? '';
    let markExited!: () => void;
    const p: PodProcess = {
      namespace,
      name,
      uid,
      container: container.name,
      child: undefined,
      cgroupDir: join(this.cgroupRoot, uid),
      log: [],
      followers: new Set(),
      startedAt: new Date().toISOString(),
      exited: new Promise((r) => (markExited = r)),
      hasExited: false,
      deleting: false,
      statusChain: Promise.resolve(),
    };
    this.pods.set(uid, p);
    // what a kubelet reports while it pulls the image and creates the container
    await this.patchStatus(p, this.waitingStatus(p, container, { reason: 'ContainerCreating' }));

    const env = await this.containerEnv(namespace, container).catch((e: unknown) => {
      // an API failure too leaves the container waiting, as a kubelet's does (p.exited must still settle)
      this.errors.push(`env of ${name}: ${String(e)}`);
      return `reading the container's environment failed: ${String(e)}`;
    });
    if (typeof env === 'string') {
      // as a kubelet: the container is never created and waits with the reason; this one does not retry
      p.hasExited = true;
      markExited();
      await this.patchStatus(
        p,
        this.waitingStatus(p, container, { reason: 'CreateContainerConfigError', message: env }),
      );
      return;
    }

    await mkdir(p.cgroupDir, { recursive: true });
    const limit = container.resources?.limits?.['memory'];
    if (limit)
      await writeFile(join(p.cgroupDir, 'memory.limit_in_bytes'), String(memoryQuantityBytes(limit)));

    const argv = [...(container.command ?? []), ...(container.args ?? [])];
    const ctx = { ...pod.spec?.securityContext, ...container.securityContext };
    const asRoot = process.getuid?.() === 0;
    // the gate holds the command until its pid is in the cgroup: nothing is allocated outside the limit
    const child = spawn('/bin/sh', ['-c', 'read -r _ && exec "$@"', 'fake-kubelet-gate', ...argv], {
      env,
      cwd: container.workingDir ?? '/',
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      ...(asRoot && ctx.runAsUser !== undefined ? { uid: ctx.runAsUser } : {}),
      ...(asRoot && (ctx.runAsGroup ?? ctx.runAsUser) !== undefined
        ? { gid: ctx.runAsGroup ?? ctx.runAsUser }
        : {}),
    });
    p.child = child;
    const spawned = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', (e) => {
        this.errors.push(`spawn ${name}: ${e.message}`);
        resolve(false);
      });
    });
    if (!spawned) {
      p.hasExited = true;
      markExited();
      await this.reportTerminated(p, 128, 'ContainerCannotRun');
      return;
    }
    // later errors (a failed kill, a write to a dead stdin) are not crashes of the test process
    child.on('error', (e) => this.errors.push(`process of ${name}: ${e.message}`));
    child.stdin?.on('error', () => undefined);
    try {
      await writeFile(join(p.cgroupDir, 'cgroup.procs'), String(child.pid));
    } catch (e) {
      // never open the gate outside the cgroup: the command would run without its memory limit
      child.stdin?.end();
      throw e;
    }

    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        partial += chunk;
        let nl = partial.indexOf('\n');
        while (nl >= 0) {
          this.append(p, partial.slice(0, nl), true);
          partial = partial.slice(nl + 1);
          nl = partial.indexOf('\n');
        }
      });
      stream?.on('end', () => {
        if (partial) this.append(p, partial, false);
        partial = '';
      });
    }
    child.once('close', (code, signal) => {
      void this.onExit(p, code, signal).finally(markExited);
    });

    const running = this.patchStatus(p, {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: '127.0.0.1',
      startTime: p.startedAt,
      conditions: this.conditions('True'),
      containerStatuses: [
        {
          ...this.containerStatusBase(p, container),
          ready: true,
          started: true,
          state: { running: { startedAt: p.startedAt } },
        },
      ],
    });
    // deleted while starting: the closed gate makes the shell exit without running the command
    child.stdin?.end(p.deleting ? '' : '\n');
    await running;
  }

  /**
   * The container's variables as a kubelet makes them: values as written, `secretKeyRef`s read from the
   * Secret through the API server. A missing Secret or key (not marked optional) is the kubelet's
   * CreateContainerConfigError, returned as its message.
   */
  private async containerEnv(
    namespace: string,
    container: V1Container,
  ): Promise<Record<string, string> | string> {
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    const secrets = new Map<string, V1Secret | undefined>();
    for (const e of container.env ?? []) {
      if (e.value !== undefined) {
        env[e.name] = e.value;
        continue;
      }
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) {
        if (e.valueFrom) this.errors.push(`env ${e.name}: only secretKeyRef is supported in valueFrom`);
        continue;
      }
      const name = ref.name ?? '';
      if (!secrets.has(name)) {
        secrets.set(
          name,
          await this.core.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
            if ((err as { code?: number }).code === 404) return undefined;
            throw err;
          }),
        );
      }
      const secret = secrets.get(name);
      const encoded = secret?.data?.[ref.key];
      if (encoded === undefined) {
        if (ref.optional) continue;
        return secret
          ? `couldn't find key ${ref.key} in Secret ${namespace}/${name}`
          : `secret "${name}" not found`;
      }
      env[e.name] = Buffer.from(encoded, 'base64').toString('utf8');
    }
    return env;
  }

  private append(p: PodProcess, text: string, newline: boolean): void {
    const entry = { nanos: nowNanos(), text, newline };
    p.log.push(entry);
    for (const f of p.followers) f(entry);
  }

  private conditions(ready: 'True' | 'False') {
    const now = new Date().toISOString();
    return ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
      type,
      status: type === 'Ready' || type === 'ContainersReady' ? ready : 'True',
      lastTransitionTime: now,
    }));
  }

  /** A pod whose one container has not started: waiting for the given reason, as a kubelet reports it. */
  private waitingStatus(
    p: PodProcess,
    container: V1Container,
    waiting: { reason: string; message?: string },
  ) {
    return {
      phase: 'Pending',
      hostIP: '127.0.0.1',
      conditions: this.conditions('False'),
      containerStatuses: [
        {
          ...this.containerStatusBase(p, container),
          ready: false,
          started: false,
          state: { waiting },
        },
      ],
    };
  }

  private containerStatusBase(p: PodProcess, container: V1Container) {
    return {
      name: container.name,
      image: container.image ?? '',
      imageID: `fake://${container.image ?? ''}`,
      ...(p.child?.pid ? { containerID: `fake://${p.child.pid}` } : {}),
      restartCount: 0,
    };
  }

  private async onExit(p: PodProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    p.hasExited = true;
    const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
    // the kernel's verdict: oom_kill counts processes the cgroup's OOM killer ended
    const oomControl = await readFile(join(p.cgroupDir, 'memory.oom_control'), 'utf8').catch(() => '');
    const oomKills = /oom_kill (\d+)/.exec(oomControl)?.[1];
    // kernels before 4.13 have no oom_kill counter: a SIGKILL after hitting the limit is the best sign
    const failcnt = Number(
      (await readFile(join(p.cgroupDir, 'memory.failcnt'), 'utf8').catch(() => '0')).trim(),
    );
    const oomKilled =
      oomKills !== undefined ? Number(oomKills) > 0 : signal === 'SIGKILL' && failcnt > 0 && !p.deleting;
    const reason = oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    await this.removeCgroup(p);
    if (!this.stopped) await this.reportTerminated(p, exitCode, reason, signal);
    for (const f of [...p.followers]) f('end');
    if (p.deleting && !this.stopped) await this.finalizeDeletion(p.namespace, p.name);
  }

  private async reportTerminated(
    p: PodProcess,
    exitCode: number,
    reason: string,
    signal?: NodeJS.Signals | null,
  ) {
    const pod = await this.core
      .readNamespacedPod({ name: p.name, namespace: p.namespace })
      .catch(() => undefined);
    const container = pod?.spec?.containers.find((c) => c.name === p.container);
    if (!pod || !container) return;
    await this.patchStatus(p, {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: this.conditions('False'),
      containerStatuses: [
        {
          ...this.containerStatusBase(p, container),
          ready: false,
          started: false,
          state: {
            terminated: {
              exitCode,
              reason,
              ...(signal ? { signal: osConstants.signals[signal] } : {}),
              startedAt: p.startedAt,
              finishedAt: new Date().toISOString(),
              containerID: `fake://${p.child?.pid ?? 0}`,
            },
          },
        },
      ],
    });
  }

  private patchStatus(p: PodProcess, status: Record<string, unknown>): Promise<void> {
    p.statusChain = p.statusChain.then(async () => {
      try {
        await this.core.patchNamespacedPodStatus(
          { name: p.name, namespace: p.namespace, body: { status } },
          this.mergePatch,
        );
      } catch (e) {
        // a pod deleted meanwhile has no status left to report
        if ((e as { code?: number }).code !== 404) this.errors.push(`status of ${p.name}: ${String(e)}`);
      }
    });
    return p.statusChain;
  }

  /** SIGTERM to the process group, SIGKILL after the grace period (capped: tests do not wait 30 s). */
  private async terminate(p: PodProcess, graceSeconds: number): Promise<void> {
    this.signal(p, 'SIGTERM');
    const killed = await settlesWithin(p.exited, Math.min(graceSeconds, 5) * 1000);
    if (!killed) await this.kill(p);
  }

  private async kill(p: PodProcess): Promise<void> {
    this.signal(p, 'SIGKILL');
    await p.exited;
  }

  private signal(p: PodProcess, sig: NodeJS.Signals): void {
    if (!p.child?.pid || p.hasExited) return;
    try {
      process.kill(-p.child.pid, sig);
    } catch {
      // already gone
    }
  }

  /** The kubelet's last word on a deleted pod: remove it for good (grace 0) once nothing runs. */
  private async finalizeDeletion(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) this.errors.push(`delete ${name}: ${String(e)}`);
    }
  }

  private async removeCgroup(p: PodProcess): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const procs = await readFile(join(p.cgroupDir, 'cgroup.procs'), 'utf8').catch(() => '');
      const pids = procs.split('\n').filter(Boolean).map(Number);
      if (pids.length === 0) break;
      // grandchildren the command left behind die with their pod, as in a real container
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // raced with its exit
        }
      }
      await delay(50);
    }
    await rmdir(p.cgroupDir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') this.errors.push(`rmdir ${p.cgroupDir}: ${e.message}`);
    });
  }

  /** Kills every process, removes the cgroups and the Node, closes the log server. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.stop();
    await Promise.all(
      [...this.pods.values()].map(async (p) => {
        if (!p.child || p.hasExited) return;
        this.signal(p, 'SIGKILL');
        await settlesWithin(p.exited, 5_000);
      }),
    );
    for (const p of this.pods.values()) {
      for (const f of [...p.followers]) f('end');
      await this.removeCgroup(p);
    }
    await rmdir(this.cgroupRoot).catch(() => undefined);
    // the shared parent goes when the last fake node's directory is gone
    await rmdir(join(this.cgroupRoot, '..')).catch(() => undefined);
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server?.close(() => r()));
    }
    await this.core?.deleteNode({ name: this.nodeName }).catch(() => undefined);
  }
}
