import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import {
  ATTEMPT_LABEL,
  JOB_LABEL,
  ORG_LABEL,
  type ContainerRuntime,
  type RunIO,
  type RunOutcome,
  type RunSpec,
} from '@agentfleet/execution';
import { DockerStreamDemuxer } from './docker-stream-demuxer';
import { LineSplitter } from './line-splitter';

/** Where the Docker Engine listens, when the caller does not hand over its own dockerode client. */
export type DockerConnection =
  | { socketPath: string }
  | { host: string; port: number; protocol?: 'http' | 'https'; ca?: string; cert?: string; key?: string };

export interface DockerRuntimeOptions {
  /** uid:gid the job runs as; never root (ARCHITECTURE §5). Default nobody:nogroup. */
  user?: string;
  /** Size of the writable /tmp (tmpfs pages count against the container's memory limit). Default 64. */
  tmpfsSizeMb?: number;
  /** Network for jobs whose spec asks for one. Default `bridge`. */
  networkMode?: string;
  /** SIGTERM first, SIGKILL after this long, when a job is cancelled or past its deadline. Default 1000. */
  stopGraceMs?: number;
  /** Pull an image the engine does not have before creating the container. Default true. */
  pullMissingImages?: boolean;
  /** Extra labels on every container (a worker id, say), next to the job labels. */
  labels?: Record<string, string>;
  /** How long ping() waits before it counts the engine as unreachable. Default 5000. */
  pingTimeoutMs?: number;
  /** How long to wait for the attach stream to drain after the container exited. Default 5000. */
  outputDrainMs?: number;
}

const DEFAULTS = {
  user: '65534:65534',
  tmpfsSizeMb: 64,
  networkMode: 'bridge',
  stopGraceMs: 1000,
  pullMissingImages: true,
  pingTimeoutMs: 5000,
  outputDrainMs: 5000,
} satisfies Omit<Required<DockerRuntimeOptions>, 'labels'>;

const MB = 1024 * 1024;

type StopReason = 'timeout' | 'cancel';

/**
 * ContainerRuntime on a Docker Engine: one container per attempt, locked down (no capabilities, no
 * privilege escalation, read-only root, memory without swap, pids and CPU limits, no network unless
 * asked), labelled with the job so a later attempt can fence it off, and always removed at the end.
 */
export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker' as const;
  private readonly docker: Docker;
  private readonly options: Required<DockerRuntimeOptions>;

  constructor(connection: Docker | DockerConnection, options: DockerRuntimeOptions = {}) {
    // an explicit connection: dockerode's defaults would read DOCKER_HOST, and libraries never read the environment
    this.docker = connection instanceof Docker ? connection : new Docker(connection);
    this.options = { ...DEFAULTS, labels: {}, ...options };
    if (isRootUser(this.options.user))
      throw new Error(`DockerRuntime: user "${this.options.user}" is root; jobs never run as root`);
  }

  async ping(): Promise<void> {
    // the typings omit ping's options; dockerode passes abortSignal to the request
    const ping = this.docker.ping.bind(this.docker) as unknown as (opts: {
      abortSignal: AbortSignal;
    }) => Promise<unknown>;
    await ping({ abortSignal: AbortSignal.timeout(this.options.pingTimeoutMs) });
  }

  async removeOrphans(jobId: string): Promise<number> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [`${JOB_LABEL}=${jobId}`] },
    });
    let removed = 0;
    for (const c of containers) {
      if (await this.remove(this.docker.getContainer(c.Id))) removed++;
    }
    return removed;
  }

  async run(spec: RunSpec, io: RunIO): Promise<RunOutcome> {
    if (io.signal.aborted) return notStarted('', spec, 'cancelled before the container was created');
    const createStarted = Date.now();
    const container = await this.create(spec);
    let outcome: RunOutcome;
    try {
      outcome = io.signal.aborted
        ? notStarted(container.id, spec, 'cancelled before the container started')
        : await this.supervise(container, spec, io, createStarted);
    } catch (e) {
      // the original failure is what the caller needs; a failed removal is fenced off by the next attempt
      await this.remove(container).catch(() => undefined);
      throw e;
    }
    try {
      await this.remove(container);
    } catch (e) {
      // the job has finished: its result stands; the leftover container is reported, not the run failed
      outcome.evidence['removeFailed'] = e instanceof Error ? e.message : String(e);
    }
    return outcome;
  }

  /** Attaches, starts, enforces the deadline and cancellation, waits, and reads the exit evidence. */
  private async supervise(
    container: Docker.Container,
    spec: RunSpec,
    io: RunIO,
    createStarted: number,
  ): Promise<RunOutcome> {
    let callbackError: unknown;
    const guarded = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        callbackError ??= e;
      }
    };
    // attach before start: output written in the first milliseconds is not lost
    const output = (await container.attach({
      stream: true,
      stdout: true,
      stderr: true,
    })) as unknown as Readable;
    const stdout = new LineSplitter((line) => guarded(() => io.onStdout(line)));
    const stderr = new LineSplitter((line) => guarded(() => io.onStderr(line)));
    const demuxer = new DockerStreamDemuxer((stream, payload) =>
      (stream === 'stdout' ? stdout : stderr).push(payload),
    );
    const outputEnded = new Promise<void>((resolve) => {
      output.on('data', (chunk: Buffer) => demuxer.push(chunk));
      output.once('end', resolve);
      output.once('close', resolve);
      output.once('error', () => resolve());
    });

    let exit: { StatusCode?: number };
    let stoppedBy: StopReason | undefined;
    let startedAt: Date;
    let memory: ReturnType<typeof sampleMemory> | undefined;
    try {
      await container.start();
      startedAt = new Date();
      guarded(() => io.onStarted?.(container.id));
      memory = sampleMemory(container);

      const stopper = this.stopper(container);
      const deadline = setTimeout(() => stopper.stop('timeout'), spec.timeoutMs);
      const onAbort = () => stopper.stop('cancel');
      io.signal.addEventListener('abort', onAbort, { once: true });
      if (io.signal.aborted) onAbort();
      try {
        exit = (await container.wait()) as { StatusCode?: number };
      } finally {
        clearTimeout(deadline);
        io.signal.removeEventListener('abort', onAbort);
      }
      stoppedBy = await stopper.settled();
      // the attach stream ends once the engine has sent the last bytes; bounded, in case it never does
      await Promise.race([outputEnded, delay(this.options.outputDrainMs)]);
    } finally {
      memory?.stop();
      output.destroy();
    }
    const finishedAt = new Date();
    stdout.end();
    stderr.end();
    // a throwing callback is the caller's bug, surfaced once the container is stopped (and then removed)
    if (callbackError !== undefined) {
      throw callbackError instanceof Error
        ? callbackError
        : new Error('a RunIO callback threw', { cause: callbackError });
    }

    const state = (await container.inspect()).State;
    const exitCode = typeof state.ExitCode === 'number' ? state.ExitCode : (exit.StatusCode ?? null);
    // OOMKilled is set when any process of the container met the OOM killer; it decides the job only
    // when the job failed (a tool child killed while the agent recovered and exited 0 is a success)
    const oomKilled = state.OOMKilled === true && exitCode !== 0;
    const limitBytes = spec.memoryLimitMb * MB;
    // the cgroup is gone after exit, so the peak is the last sample's high-water mark; an OOM kill
    // proves usage reached the limit even when no sample saw it
    const peakBytes = oomKilled ? Math.max(memory.peakBytes ?? 0, limitBytes) : memory.peakBytes;

    return {
      containerId: container.id,
      exitCode,
      oomKilled,
      timedOut: stoppedBy === 'timeout',
      cancelled: stoppedBy === 'cancel',
      evidence: {
        engine: 'docker',
        state: {
          Status: state.Status,
          ExitCode: state.ExitCode,
          OOMKilled: state.OOMKilled,
          Dead: state.Dead,
          Error: state.Error,
          StartedAt: state.StartedAt,
          FinishedAt: state.FinishedAt,
        },
        waitStatusCode: exit.StatusCode ?? null,
        memoryLimitBytes: limitBytes,
        peakMemoryBytes: peakBytes,
        memorySamples: memory.samples,
        stoppedBy: stoppedBy ?? null,
        outputCutOff: demuxer.bufferedBytes > 0,
      },
      peakMemoryMb: peakBytes === null ? null : Math.round((peakBytes / MB) * 10) / 10,
      startLatencyMs: startedAt.getTime() - createStarted,
      startedAt,
      finishedAt,
    };
  }

  private async create(spec: RunSpec): Promise<Docker.Container> {
    const [entrypoint, ...args] = spec.command;
    const options: Docker.ContainerCreateOptions = {
      Image: spec.image,
      // the spec's argv replaces the image's entry point (as a Kubernetes `command` does); none keeps it
      ...(entrypoint !== undefined ? { Entrypoint: [entrypoint], Cmd: args } : {}),
      // secret values join the plain ones: Docker has no per-container secret store outside Swarm, and
      // the container (with its config) is removed once the run has ended
      Env: Object.entries({ ...spec.env, ...spec.secretEnv }).map(([k, v]) => `${k}=${v}`),
      User: this.options.user,
      Labels: {
        ...this.options.labels,
        [JOB_LABEL]: spec.jobId,
        [ATTEMPT_LABEL]: String(spec.attempt),
        [ORG_LABEL]: spec.organizationId,
      },
      Tty: false,
      OpenStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      // no network: besides NetworkMode none, the engine skips network setup altogether (the container
      // still gets a namespace of its own with only loopback). Joining the `none` network alone made
      // dockerd set up a sandbox for it: ~90 ms of a ~140 ms `node -e 0` run on the benchmark host
      ...(spec.network ? {} : { NetworkDisabled: true }),
      HostConfig: {
        Memory: spec.memoryLimitMb * MB,
        // equal to Memory: no swap, so the limit is a real limit and the OOM killer decides, not the disk
        MemorySwap: spec.memoryLimitMb * MB,
        ...(spec.cpu > 0 ? { NanoCpus: Math.round(spec.cpu * 1e9) } : {}),
        PidsLimit: spec.pidsLimit,
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': `rw,nosuid,nodev,noexec,size=${this.options.tmpfsSizeMb}m,mode=1777` },
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Privileged: false,
        NetworkMode: spec.network ? this.options.networkMode : 'none',
        // a minimal init as PID 1: forwards SIGTERM (a bare node as PID 1 ignores it) and reaps tool children
        Init: true,
        AutoRemove: false, // removed by us, after inspect has read the exit evidence
      },
    };
    try {
      return await this.docker.createContainer(options);
    } catch (e) {
      if (!this.options.pullMissingImages || statusCode(e) !== 404) throw e;
      await this.pull(spec.image);
      return this.docker.createContainer(options);
    }
  }

  private async pull(image: string): Promise<void> {
    const progress = await this.docker.pull(image);
    const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
      this.docker.modem.followProgress(progress, (err, result) =>
        err ? reject(err) : resolve(result as never),
      ),
    );
    const failed = events.find((e) => e.error);
    if (failed) throw new Error(`docker pull ${image}: ${failed.error}`);
  }

  /**
   * Stops the container once, for the first reason (deadline or cancel): SIGTERM, then SIGKILL after the
   * grace period. The reason counts only if the container was still running when the signal arrived —
   * a job that exited on its own a moment before its deadline did not time out.
   */
  private stopper(container: Docker.Container) {
    let reason: StopReason | undefined;
    let pending: Promise<void> = Promise.resolve();
    let escalation: NodeJS.Timeout | undefined;
    const signal = async (name: 'SIGTERM' | 'SIGKILL'): Promise<boolean> => {
      try {
        await container.kill({ signal: name });
        return true;
      } catch (e) {
        // 409: not running any more (it exited first); 404: gone
        if (statusCode(e) === 409 || statusCode(e) === 404) return false;
        throw e;
      }
    };
    return {
      stop: (why: StopReason) => {
        if (reason) return;
        reason = why;
        pending = signal('SIGTERM').then(
          (delivered) => {
            if (!delivered) {
              reason = undefined;
              return;
            }
            escalation = setTimeout(
              () => void signal('SIGKILL').catch(() => undefined),
              this.options.stopGraceMs,
            );
            escalation.unref();
          },
          () => {
            // the engine refused the signal: SIGKILL now rather than run past the deadline
            return signal('SIGKILL').then(
              (delivered) => {
                if (!delivered) reason = undefined;
              },
              () => undefined,
            );
          },
        );
      },
      /** After wait(): the reason the container stopped, if we stopped it. */
      settled: async (): Promise<StopReason | undefined> => {
        await pending;
        clearTimeout(escalation);
        return reason;
      },
    };
  }

  /** Force-removes; true if this call removed it. A container already gone or being removed is fine. */
  private async remove(container: Docker.Container): Promise<boolean> {
    try {
      await container.remove({ force: true, v: true });
      return true;
    } catch (e) {
      const code = statusCode(e);
      if (code === 404 || code === 409) return false;
      throw e;
    }
  }
}

/**
 * Follows the engine's stats stream while the container runs and keeps the memory high-water mark
 * (cgroup v1 `max_usage`, else the largest `usage` seen). Best effort: any failure leaves it null.
 */
function sampleMemory(container: Docker.Container) {
  let peakBytes: number | null = null;
  let samples = 0;
  let stream: Readable | undefined;
  let stopped = false;
  const lines = new LineSplitter((line) => {
    try {
      const mem = (JSON.parse(line) as { memory_stats?: { usage?: number; max_usage?: number } })
        .memory_stats;
      const bytes = mem?.max_usage ?? mem?.usage;
      if (typeof bytes === 'number' && bytes > 0) {
        samples++;
        peakBytes = Math.max(peakBytes ?? 0, bytes);
      }
    } catch {
      // a cut-off sample at the end of the stream
    }
  });
  container.stats({ stream: true }).then(
    (s) => {
      stream = s as unknown as Readable;
      if (stopped) return void stream.destroy();
      stream.on('data', (chunk: Buffer) => lines.push(chunk));
      stream.on('error', () => undefined);
    },
    () => undefined,
  );
  return {
    stop() {
      stopped = true;
      stream?.destroy();
    },
    get peakBytes() {
      return peakBytes;
    },
    get samples() {
      return samples;
    },
  };
}

function notStarted(containerId: string, spec: RunSpec, why: string): RunOutcome {
  const now = new Date();
  return {
    containerId,
    exitCode: null,
    oomKilled: false,
    timedOut: false,
    cancelled: true,
    evidence: { engine: 'docker', notStarted: why, memoryLimitBytes: spec.memoryLimitMb * MB },
    peakMemoryMb: null,
    startLatencyMs: 0,
    startedAt: now,
    finishedAt: now,
  };
}

function isRootUser(user: string): boolean {
  const name = user.split(':')[0]!.trim();
  return name === '' || name === '0' || name === 'root';
}

function statusCode(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && 'statusCode' in e
    ? (e as { statusCode?: number }).statusCode
    : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
