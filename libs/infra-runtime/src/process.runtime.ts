import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants as os, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { ContainerRuntime, RunIO, RunOutcome, RunSpec } from '@agentfleet/execution';
import { LineSplitter } from './line-splitter';
import { type AttemptMemoryCap, type MemoryCapMechanism, MemoryCaps } from './process-memory-cap';

/** Read once: a uname(2) per job is measurable in the no-op benchmark. */
const HOST = hostname();

export type { MemoryCapMechanism } from './process-memory-cap';

export interface ProcessRuntimeOptions {
  /**
   * How memory is capped. `auto` (default): cgroup v2, else cgroup v1, else `prlimit --as`, else none.
   * Naming one makes it required: run() rejects on a host without it.
   */
  memoryCap?: 'auto' | MemoryCapMechanism;
  /** Where cgroup hierarchies are mounted. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** The cgroup (created if missing, never removed) holding one child per attempt, `<job>-<attempt>`. Default agentfleet. */
  cgroupParent?: string;
  /** util-linux prlimit, for the rlimit fallback. Default /usr/bin/prlimit. */
  prlimitPath?: string;
  /** Added to the address-space limit of the rlimit fallback (Node reserves ~1.2 GB of address space at start). Default 0. */
  addressSpaceSlackMb?: number;
  /** PATH of every job unless its spec sets one; nothing else of the worker's environment reaches a job. */
  path?: string;
  /** SIGTERM first, SIGKILL after this long, on timeout or cancel. Default 1000. */
  stopGraceMs?: number;
  /** Where each attempt's fresh working directory is made. Default the OS temp dir. */
  workDirParent?: string;
  /** After the job's processes are gone, how long output may take to drain before the pipes are cut. Default 2000. */
  outputDrainMs?: number;
}

const DEFAULTS = {
  memoryCap: 'auto',
  cgroupRoot: '/sys/fs/cgroup',
  cgroupParent: 'agentfleet',
  prlimitPath: '/usr/bin/prlimit',
  addressSpaceSlackMb: 0,
  path: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  stopGraceMs: 1000,
  outputDrainMs: 2000,
} satisfies Omit<Required<ProcessRuntimeOptions>, 'workDirParent'>;

/** setTimeout fires at once past this (a 32-bit signed delay); longer deadlines are clamped to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type StopReason = 'timeout' | 'cancel' | 'fenced';

/** A running attempt, as removeOrphans sees it. */
interface Attempt {
  jobId: string;
  attempt: number;
  /** The cgroup name, so that the cgroup scan does not count this attempt twice. */
  groupName: string;
  /** SIGKILLs the attempt's processes at once (fencing) and resolves when run() has finished. */
  fence(): Promise<void>;
}

/**
 * ContainerRuntime as local child processes, for laptops without a container engine and for the no-op
 * benchmark. Each attempt: argv without a shell, a fresh temp working directory (removed afterwards), an
 * environment of spec.env, spec.secretEnv and PATH only (the worker's own may hold credentials), a memory
 * cap (cgroup when writable, else an address-space rlimit, see MemoryCaps), a deadline and cancellation
 * (SIGTERM, then SIGKILL after a grace), and the whole process tree killed when the main process ends, as
 * a container engine does. `image` is only recorded in the evidence. Not enforced: cpu, pidsLimit, network
 * and filesystem isolation; use the Docker or Kubernetes runtime where those matter.
 *
 * The cgroup race (a child allocating before its pid is in the cgroup) is closed by a gate: the spawned
 * process is a /bin/sh that waits on fd 3, the pid goes into cgroup.procs, and only then does the gate get
 * its go-ahead and exec the command in place (see GATE in cgroup-memory-cap.ts).
 *
 * Cost per attempt beyond the job's own start: one temp dir, one /bin/sh exec (the gate) and a handful
 * of cgroup file writes, well under a millisecond of CPU. Moving the gate into its v1 cgroup also waits
 * for an RCU grace period in the kernel (about 10 ms here, idle time, not CPU), which concurrent
 * attempts overlap; `memoryCap: 'none'` skips it where no cap is wanted.
 */
export class ProcessRuntime implements ContainerRuntime {
  readonly kind = 'process' as const;
  private readonly options: Required<ProcessRuntimeOptions>;
  private capsProbe: Promise<MemoryCaps> | undefined;
  /** Running attempts of this runtime by job id: the process runtime's labels. */
  private readonly running = new Map<string, Set<Attempt>>();

  constructor(options: ProcessRuntimeOptions = {}) {
    this.options = { ...DEFAULTS, workDirParent: tmpdir(), ...options };
  }

  /** The memory cap this host gives jobs (probed once, on first use). */
  async memoryCapMechanism(): Promise<MemoryCapMechanism> {
    return (await this.caps()).mechanism;
  }

  async ping(): Promise<void> {}

  /**
   * Fencing. Kills this host's processes of the job: attempts this runtime is running (from its in-memory
   * registry), and attempt cgroups of the job that no one here supervises any more (a previous worker
   * process on this host that died). A process runtime cannot see processes on another host; a worker
   * there that lost its lease keeps running until it notices, and its late results are dropped by the
   * attempt-conditional updates. Returns how many attempts it removed.
   */
  async removeOrphans(jobId: string): Promise<number> {
    const mine = [...(this.running.get(jobId) ?? [])];
    await Promise.all(mine.map((a) => a.fence()));
    const caps = await this.caps();
    const supervised = new Set(mine.map((a) => a.groupName));
    let removed = mine.length;
    for (const dir of await caps.attemptGroups(safeName(jobId))) {
      if (supervised.has(dir.slice(dir.lastIndexOf('/') + 1))) continue;
      await caps.removeGroup(dir);
      removed++;
    }
    return removed;
  }

  async run(spec: RunSpec, io: RunIO): Promise<RunOutcome> {
    const requestedAt = Date.now();
    const startedAt = new Date(requestedAt);
    if (!spec.command.length) throw new Error('ProcessRuntime: spec.command is empty');
    if (io.signal.aborted) return notStarted(spec, startedAt, { cancelled: true });
    if (isNoop(spec.command)) return noop(spec, io, requestedAt, startedAt);

    const groupName = `${safeName(spec.jobId)}-${spec.attempt}`;
    let fenced = false;
    let stopNow: ((reason: StopReason) => void) | undefined;
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const entry: Attempt = {
      jobId: spec.jobId,
      attempt: spec.attempt,
      groupName,
      fence: async () => {
        fenced = true;
        stopNow?.('fenced');
        await done;
      },
    };
    // registered before anything exists, so a removeOrphans racing with the start still finds it
    this.register(entry);
    let workDir: string | undefined;
    let cap: AttemptMemoryCap | undefined;
    try {
      const caps = await this.caps();
      workDir = await mkdtemp(join(this.options.workDirParent, `agentfleet-${groupName}-`));
      if (fenced) return notStarted(spec, startedAt, { fenced: true });
      cap = await caps.forAttempt(groupName, spec.memoryLimitMb, spec.command, 'PWD' in jobEnv(spec));
      return await this.supervise(spec, io, cap, workDir, requestedAt, startedAt, {
        isFenced: () => fenced,
        onStopper: (fn) => (stopNow = fn),
      });
    } finally {
      await cap?.release();
      if (workDir) await rm(workDir, { recursive: true, force: true });
      this.unregister(entry);
      finished();
    }
  }

  private async supervise(
    spec: RunSpec,
    io: RunIO,
    cap: AttemptMemoryCap,
    workDir: string,
    requestedAt: number,
    startedAt: Date,
    fencing: { isFenced(): boolean; onStopper(stop: (reason: StopReason) => void): void },
  ): Promise<RunOutcome> {
    const [file, ...args] = cap.argv as [string, ...string[]];
    const child = spawn(file, args, {
      cwd: workDir,
      env: { PATH: this.options.path, ...jobEnv(spec) },
      stdio: cap.gated ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      // its own process group: timeout, cancel and the end of the job signal the whole tree
      detached: true,
    });
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    child.on('error', () => undefined); // later errors (a failed kill) change nothing: the exit decides
    const base = { runtime: 'process', image: spec.image, host: HOST };
    if (spawnError || child.pid === undefined) {
      // the job's fault (no such program), not the host's: an outcome like a container exiting 127
      const memory = await cap.report({ exitCode: 127, signal: null, killedByRuntime: false });
      return {
        ...notStarted(spec, startedAt, {}),
        exitCode: 127,
        evidence: { ...base, ...memory.evidence, spawnError: spawnError?.message ?? 'no pid' },
      };
    }
    const pid = child.pid;
    try {
      return await this.follow(spec, io, cap, child, pid, requestedAt, startedAt, base, fencing);
    } catch (e) {
      // a throwing callback must not leave the job running unsupervised
      signalGroup(pid, 'SIGKILL');
      throw e;
    }
  }

  /** From a live pid to the outcome: go-ahead, output, deadline, cancel, fencing, the end of the tree. */
  private async follow(
    spec: RunSpec,
    io: RunIO,
    cap: AttemptMemoryCap,
    child: ChildProcess,
    pid: number,
    requestedAt: number,
    startedAt: Date,
    base: Record<string, unknown>,
    fencing: { isFenced(): boolean; onStopper(stop: (reason: StopReason) => void): void },
  ): Promise<RunOutcome> {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // wired before the go-ahead: the first line may come right after it
    const stdout = new LineSplitter((l) => io.onStdout(l));
    const stderr = new LineSplitter((l) => {
      cap.noteStderr(l);
      io.onStderr(l);
    });
    child.stdout?.on('data', (c: Buffer) => stdout.push(c));
    child.stdout?.on('end', () => stdout.end());
    child.stderr?.on('data', (c: Buffer) => stderr.push(c));
    child.stderr?.on('end', () => stderr.end());

    if (cap.gated) {
      const gate = child.stdio[3] as Writable;
      gate.on('error', () => undefined); // EPIPE when the gate died first; the exit tells the story
      try {
        await cap.attach(pid);
      } catch (e) {
        // closing fd 3 without a go-ahead makes the gate exit 125; the command never ran
        gate.destroy();
        signalGroup(pid, 'SIGKILL');
        await closed;
        throw new Error(
          `ProcessRuntime: cannot put pid ${pid} into ${cap.group}: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      gate.end('go\n');
    }

    const startLatencyMs = Date.now() - requestedAt;
    const containerId = `${HOST}:${pid}`;
    io.onStarted?.(containerId);

    let stopReason: StopReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (reason: StopReason) => {
      if (stopReason && reason !== 'fenced') return;
      stopReason ??= reason;
      if (reason === 'fenced') {
        signalGroup(pid, 'SIGKILL');
        void cap.killAll();
        return;
      }
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        signalGroup(pid, 'SIGKILL');
        void cap.killAll();
      }, this.options.stopGraceMs);
    };
    fencing.onStopper(stop);
    if (fencing.isFenced()) stop('fenced');
    const deadline = setTimeout(() => stop('timeout'), Math.min(spec.timeoutMs, MAX_TIMER_MS));
    const onAbort = () => stop('cancel');
    io.signal.addEventListener('abort', onAbort, { once: true });
    if (io.signal.aborted) stop('cancel');

    const { code, signal } = await exited;
    clearTimeout(deadline);
    clearTimeout(killTimer);
    io.signal.removeEventListener('abort', onAbort);

    // the main process is gone: so is the job, as when a container's PID 1 exits
    signalGroup(pid, 'SIGKILL');
    await cap.killAll();
    // output still buffered in the pipes drains now; a process that escaped both the process group and
    // the cgroup could hold them open forever, so the wait is bounded
    let drainTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise<void>((r) => (drainTimer = setTimeout(r, this.options.outputDrainMs))),
    ]);
    clearTimeout(drainTimer);
    child.stdout?.destroy();
    child.stderr?.destroy();
    stdout.end();
    stderr.end();

    const exitCode = code ?? (signal ? 128 + (os.signals[signal] ?? 0) : null);
    const memory = await cap.report({ exitCode, signal, killedByRuntime: stopReason !== undefined });
    const releaseError = await cap.release();
    return {
      containerId,
      exitCode,
      oomKilled: memory.oomKilled,
      timedOut: stopReason === 'timeout',
      cancelled: stopReason === 'cancel',
      evidence: {
        ...base,
        pid,
        ...memory.evidence,
        exitSignal: signal,
        ...(stopReason ? { stoppedBy: stopReason } : {}),
        ...(releaseError ? { releaseError } : {}),
      },
      peakMemoryMb: memory.peakMemoryMb,
      startLatencyMs,
      startedAt,
      finishedAt: new Date(),
    };
  }

  private caps(): Promise<MemoryCaps> {
    if (!this.capsProbe) {
      const probe = MemoryCaps.probe({
        mechanism: this.options.memoryCap,
        cgroupRoot: this.options.cgroupRoot,
        cgroupParent: this.options.cgroupParent,
        prlimitPath: this.options.prlimitPath,
        addressSpaceSlackMb: this.options.addressSpaceSlackMb,
      });
      // a failed probe is not kept: the host may be fixed without restarting the worker
      probe.catch(() => {
        if (this.capsProbe === probe) this.capsProbe = undefined;
      });
      this.capsProbe = probe;
    }
    return this.capsProbe;
  }

  private register(a: Attempt): void {
    const set = this.running.get(a.jobId) ?? new Set<Attempt>();
    set.add(a);
    this.running.set(a.jobId, set);
  }

  private unregister(a: Attempt): void {
    const set = this.running.get(a.jobId);
    set?.delete(a);
    if (set?.size === 0) this.running.delete(a.jobId);
  }
}

/**
 * The no-op command: exactly `["agentfleet:noop"]` starts and completes (exit 0, no output) without
 * spawning anything. It exists so the execution benchmark measures the fleet's path (API, PostgreSQL,
 * queue, worker, stream) rather than process creation, which alone would cap it at a few hundred jobs/s.
 * Only that exact one-element argv is taken: a real program of that name would still run when given by its path.
 */
export const NOOP_COMMAND = 'agentfleet:noop';

function isNoop(command: readonly string[]): boolean {
  return command.length === 1 && command[0] === NOOP_COMMAND;
}

/**
 * The child's variables. Secret values join the plain ones: a child process has no other way to get
 * them, and nothing of a process attempt's environment is stored anywhere.
 */
function jobEnv(spec: RunSpec): Record<string, string> {
  return { ...spec.env, ...spec.secretEnv };
}

function noop(spec: RunSpec, io: RunIO, requestedAt: number, startedAt: Date): RunOutcome {
  const containerId = `${HOST}:noop`;
  io.onStarted?.(containerId);
  return {
    containerId,
    exitCode: 0,
    oomKilled: false,
    timedOut: false,
    cancelled: false,
    evidence: { runtime: 'process', image: spec.image, noop: true },
    peakMemoryMb: null,
    startLatencyMs: Date.now() - requestedAt,
    startedAt,
    finishedAt: new Date(),
  };
}

/** Signals the job's process group (the main process leads it); it may be gone already. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

/** Job ids become cgroup and directory names: never a path separator or a leading dot. */
function safeName(jobId: string): string {
  return jobId
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .replace(/^\./, '_')
    .slice(0, 200);
}

function notStarted(
  spec: RunSpec,
  startedAt: Date,
  why: { cancelled?: boolean; fenced?: boolean },
): RunOutcome {
  return {
    containerId: '',
    exitCode: null,
    oomKilled: false,
    timedOut: false,
    cancelled: why.cancelled ?? false,
    evidence: {
      runtime: 'process',
      image: spec.image,
      notStarted: true,
      ...(why.fenced ? { stoppedBy: 'fenced' } : {}),
    },
    peakMemoryMb: null,
    startLatencyMs: 0,
    startedAt,
    finishedAt: new Date(),
  };
}
