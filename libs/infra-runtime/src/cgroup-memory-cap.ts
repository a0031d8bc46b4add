import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import type { AttemptMemoryCap, MainProcessExit, MemoryCapReport } from './process-memory-cap';

export type CgroupVersion = 1 | 2;

const MB = 1024 * 1024;

/**
 * The gate: a shell that blocks reading fd 3 until the runtime has written the pid into cgroup.procs,
 * then closes fd 3 and execs the command in place (same pid, so same cgroup). Nothing of the command
 * runs, let alone allocates, outside the cgroup. If the runtime closes fd 3 without a go-ahead (the
 * attach failed), `read` fails and the gate exits 125 without running anything. The command arrives as
 * "$@": no user text is ever parsed by the shell. dash exports PWD; it is dropped unless the job set it,
 * so the job sees exactly the environment it was given.
 */
const GATE = 'read -r _ <&3 || exit 125; exec 3<&-; exec "$@"';
const GATE_WITHOUT_PWD = 'read -r _ <&3 || exit 125; exec 3<&-; unset PWD; exec "$@"';
const GATE_NAME = 'agentfleet-gate';

/**
 * Makes sure `<root>/<parent>` exists and accepts attempt cgroups with a memory limit: creates it and a
 * probe child, writes a limit into the probe, removes it. Throws when this host does not allow it.
 */
export async function prepareCgroupParent(
  version: CgroupVersion,
  root: string,
  parentName: string,
): Promise<string> {
  if (version === 2) {
    // cgroup.controllers exists only at the top of a unified (v2) hierarchy
    const controllers = await readFile(`${root}/cgroup.controllers`, 'utf8');
    if (!controllers.split(/\s+/).includes('memory'))
      throw new Error('the cgroup v2 memory controller is not enabled');
    // "no internal processes": this fails (EBUSY) when root is a container's own cgroup holding the worker
    await enableMemoryController(root);
    const parent = `${root}/${parentName}`;
    await mkdir(parent, { recursive: true });
    await enableMemoryController(parent);
    await probe(parent, 'memory.max', 'max');
    return parent;
  }
  const hierarchy = `${root}/memory`;
  await access(`${hierarchy}/memory.limit_in_bytes`);
  const parent = `${hierarchy}/${parentName}`;
  await mkdir(parent, { recursive: true });
  await probe(parent, 'memory.limit_in_bytes', '-1');
  return parent;
}

async function enableMemoryController(dir: string): Promise<void> {
  const enabled = await readFile(`${dir}/cgroup.subtree_control`, 'utf8');
  if (!enabled.split(/\s+/).includes('memory')) await writeFile(`${dir}/cgroup.subtree_control`, '+memory');
}

async function probe(parent: string, limitFile: string, value: string): Promise<void> {
  const dir = `${parent}/probe-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(dir);
  try {
    await writeFile(`${dir}/${limitFile}`, value);
  } finally {
    await rmdir(dir);
  }
}

/**
 * One attempt's memory cgroup (v1: memory.limit_in_bytes, memsw, max_usage_in_bytes, oom_control;
 * v2: memory.max, swap.max, peak, events). Everything the job starts lands in it, so it is also how the
 * runtime finds and kills the whole process tree at the end.
 */
export class CgroupMemoryCap implements AttemptMemoryCap {
  readonly mechanism: 'cgroup-v1' | 'cgroup-v2';
  readonly gated = true;
  readonly argv: string[];
  private removed = false;

  private constructor(
    private readonly version: CgroupVersion,
    readonly group: string,
    private readonly limitBytes: number | null,
    command: string[],
    keepPwd: boolean,
  ) {
    this.mechanism = version === 2 ? 'cgroup-v2' : 'cgroup-v1';
    this.argv = command.length
      ? ['/bin/sh', '-c', keepPwd ? GATE : GATE_WITHOUT_PWD, GATE_NAME, ...command]
      : [];
  }

  /** Creates the cgroup with its limit. A leftover of the same name (a crashed worker) is emptied and replaced. */
  static async create(
    version: CgroupVersion,
    dir: string,
    limitBytes: number,
    command: string[],
    keepPwd: boolean,
  ): Promise<CgroupMemoryCap> {
    try {
      await mkdir(dir);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      // stale counters (max usage, oom_kill) would be read as this attempt's: start from a fresh group
      const why = await CgroupMemoryCap.adopt(version, dir).release();
      if (why) throw new Error(why);
      await mkdir(dir);
    }
    const cap = new CgroupMemoryCap(version, dir, limitBytes, command, keepPwd);
    try {
      await cap.writeLimits(limitBytes);
    } catch (e) {
      await cap.release();
      throw e;
    }
    return cap;
  }

  /** A handle on an existing attempt cgroup, only to kill what is in it and remove it. */
  static adopt(version: CgroupVersion, dir: string): CgroupMemoryCap {
    return new CgroupMemoryCap(version, dir, null, [], true);
  }

  private async writeLimits(bytes: number): Promise<void> {
    if (this.version === 1) {
      // limit before memsw: memsw may never be below the memory limit
      await writeFile(`${this.group}/memory.limit_in_bytes`, String(bytes));
      // memory + swap at the same value: no swapping past the limit (the file exists only with swap accounting)
      if (await exists(`${this.group}/memory.memsw.limit_in_bytes`)) {
        await writeFile(`${this.group}/memory.memsw.limit_in_bytes`, String(bytes));
      }
      await writeFile(`${this.group}/memory.swappiness`, '0').catch(() => undefined);
      return;
    }
    await writeFile(`${this.group}/memory.max`, String(bytes));
    if (await exists(`${this.group}/memory.swap.max`)) await writeFile(`${this.group}/memory.swap.max`, '0');
    // one OOM kill takes the whole job down, as in a container (Kubernetes sets the same)
    if (await exists(`${this.group}/memory.oom.group`))
      await writeFile(`${this.group}/memory.oom.group`, '1');
  }

  async attach(pid: number): Promise<void> {
    await writeFile(`${this.group}/cgroup.procs`, String(pid));
  }

  noteStderr(): void {}

  async killAll(): Promise<void> {
    if (this.version === 2 && (await exists(`${this.group}/cgroup.kill`))) {
      await writeFile(`${this.group}/cgroup.kill`, '1').catch(() => undefined);
      return;
    }
    // v1 has no cgroup.kill; a process may fork while we read, so read until the list stays empty
    for (let round = 0; round < 10; round++) {
      const pids = await this.pids();
      if (!pids.length) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  }

  private async pids(): Promise<number[]> {
    const text = await readOptional(`${this.group}/cgroup.procs`);
    return (text ?? '')
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  }

  async report(exit: MainProcessExit): Promise<MemoryCapReport> {
    return this.version === 1 ? this.reportV1(exit) : this.reportV2(exit);
  }

  /**
   * v1: oom_control's oom_kill counter (kernel ≥ 4.13) says the kernel killed a process of this group.
   * Without it, a SIGKILL the runtime did not send plus a non-zero failcnt is the best evidence there is.
   * A job whose main process survives a child's OOM kill and exits 0 is not reported as OOM.
   */
  private async reportV1(exit: MainProcessExit): Promise<MemoryCapReport> {
    const maxUsage = toInt(await readOptional(`${this.group}/memory.max_usage_in_bytes`));
    const failcnt = toInt(await readOptional(`${this.group}/memory.failcnt`));
    const oomControl = keyValues(await readOptional(`${this.group}/memory.oom_control`));
    const oomKills = oomControl['oom_kill'];
    const oomKilled =
      exit.exitCode !== 0 &&
      (oomKills !== undefined
        ? oomKills > 0
        : exit.signal === 'SIGKILL' && !exit.killedByRuntime && (failcnt ?? 0) > 0);
    return {
      oomKilled,
      peakMemoryMb: maxUsage === undefined ? null : toMb(maxUsage),
      evidence: {
        memoryCap: this.mechanism,
        cgroup: this.group,
        limitBytes: this.limitBytes,
        maxUsageBytes: maxUsage ?? null,
        failcnt: failcnt ?? null,
        oomControl,
        ...(oomKilled
          ? { oomEvidence: oomKills !== undefined ? 'cgroup oom_kill' : 'SIGKILL with failcnt' }
          : {}),
      },
    };
  }

  /** v2: memory.events oom_kill; memory.peak exists from Linux 5.19. */
  private async reportV2(exit: MainProcessExit): Promise<MemoryCapReport> {
    const peak = toInt(await readOptional(`${this.group}/memory.peak`));
    const events = keyValues(await readOptional(`${this.group}/memory.events`));
    const oomKilled = exit.exitCode !== 0 && (events['oom_kill'] ?? 0) > 0;
    return {
      oomKilled,
      peakMemoryMb: peak === undefined ? null : toMb(peak),
      evidence: {
        memoryCap: this.mechanism,
        cgroup: this.group,
        limitBytes: this.limitBytes,
        peakBytes: peak ?? null,
        memoryEvents: events,
        ...(oomKilled ? { oomEvidence: 'cgroup oom_kill' } : {}),
      },
    };
  }

  /**
   * Kills what is left and removes the directory. rmdir fails with EBUSY until the killed processes
   * have exited, which takes a moment after SIGKILL, hence the short retries.
   */
  async release(): Promise<string | undefined> {
    if (this.removed) return undefined;
    for (let attempt = 0; ; attempt++) {
      await this.killAll();
      try {
        await rmdir(this.group);
        this.removed = true;
        return undefined;
      } catch (e) {
        if (errno(e) === 'ENOENT') {
          this.removed = true;
          return undefined;
        }
        if (errno(e) !== 'EBUSY' || attempt >= 200) {
          return `could not remove cgroup ${this.group}: ${e instanceof Error ? e.message : String(e)}`;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function toInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

function toMb(bytes: number): number {
  return Math.round((bytes / MB) * 10) / 10;
}

/** "key value" lines (oom_control, memory.events) as numbers. */
function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
}
