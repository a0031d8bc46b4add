import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { CgroupMemoryCap, type CgroupVersion, prepareCgroupParent } from './cgroup-memory-cap';

/** How the process runtime caps a job's memory, best first. */
export const MEMORY_CAP_MECHANISMS = ['cgroup-v2', 'cgroup-v1', 'rlimit', 'none'] as const;
export type MemoryCapMechanism = (typeof MEMORY_CAP_MECHANISMS)[number];

/** What a cap knows once the job's main process has ended. */
export interface MemoryCapReport {
  oomKilled: boolean;
  peakMemoryMb: number | null;
  evidence: Record<string, unknown>;
}

/** The end of the main process, as the cap needs it to judge an OOM kill. */
export interface MainProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The runtime sent the SIGKILL (timeout, cancel, fencing): not the kernel's OOM killer. */
  killedByRuntime: boolean;
}

/**
 * One attempt's memory cap: created before the spawn, told the pid, read and removed at the end.
 * `argv` is what to spawn instead of the bare command (a prlimit prefix, or the cgroup gate).
 */
export interface AttemptMemoryCap {
  readonly mechanism: MemoryCapMechanism;
  readonly argv: string[];
  /** The spawned process blocks on fd 3 until `attach` is done and the runtime writes a newline to it. */
  readonly gated: boolean;
  /** The cgroup directory, when there is one (for fencing and evidence). */
  readonly group: string | null;
  attach(pid: number): Promise<void>;
  /** Sees every stderr line: an allocation failure under an rlimit is only visible there. */
  noteStderr(line: string): void;
  /** SIGKILLs every process left in the group, including ones that left the process group. */
  killAll(): Promise<void>;
  report(exit: MainProcessExit): Promise<MemoryCapReport>;
  /** Removes what `prepare` created; safe to call twice. Returns why removal failed, if it did. */
  release(): Promise<string | undefined>;
}

export interface MemoryCapOptions {
  /** `auto` takes the best mechanism this host offers; a named one is required (the runtime fails without it). */
  mechanism: 'auto' | MemoryCapMechanism;
  /** Where cgroup hierarchies are mounted. */
  cgroupRoot: string;
  /** The cgroup that holds one child cgroup per attempt. */
  cgroupParent: string;
  prlimitPath: string;
  /** Added to the address-space limit of the rlimit fallback (see RlimitMemoryCap). */
  addressSpaceSlackMb: number;
}

/** The mechanism this host offers, probed once; hands out one cap per attempt. */
export class MemoryCaps {
  private constructor(
    readonly mechanism: MemoryCapMechanism,
    private readonly options: MemoryCapOptions,
    /** The parent cgroup directory when the mechanism is a cgroup. */
    readonly parentDir: string | null,
  ) {}

  /** Tries each mechanism in order; the first that works on this host wins. */
  static async probe(options: MemoryCapOptions): Promise<MemoryCaps> {
    const candidates = options.mechanism === 'auto' ? MEMORY_CAP_MECHANISMS : [options.mechanism];
    const failures: string[] = [];
    for (const m of candidates) {
      try {
        switch (m) {
          case 'cgroup-v2':
          case 'cgroup-v1':
            return new MemoryCaps(
              m,
              options,
              await prepareCgroupParent(versionOf(m), options.cgroupRoot, options.cgroupParent),
            );
          case 'rlimit':
            await access(options.prlimitPath, constants.X_OK);
            return new MemoryCaps(m, options, null);
          case 'none':
            return new MemoryCaps(m, options, null);
        }
      } catch (e) {
        failures.push(`${m}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    throw new Error(`no memory cap available (${failures.join('; ')})`);
  }

  async forAttempt(
    name: string,
    limitMb: number,
    command: string[],
    keepPwd: boolean,
  ): Promise<AttemptMemoryCap> {
    const limitBytes = Math.floor(limitMb * 1024 * 1024);
    switch (this.mechanism) {
      case 'cgroup-v2':
      case 'cgroup-v1':
        return CgroupMemoryCap.create(
          versionOf(this.mechanism),
          `${this.parentDir}/${name}`,
          limitBytes,
          command,
          keepPwd,
        );
      case 'rlimit':
        return new RlimitMemoryCap(
          this.options.prlimitPath,
          limitBytes + this.options.addressSpaceSlackMb * 1024 * 1024,
          command,
        );
      case 'none':
        return new NoMemoryCap(command);
    }
  }

  /** Attempt cgroups of a job left on this host (by any runtime instance, a dead worker's included). */
  async attemptGroups(safeJobId: string): Promise<string[]> {
    if (!this.parentDir) return [];
    const pattern = new RegExp(`^${safeJobId.replace(/[.]/g, '\\.')}-\\d+$`);
    const entries = await readdir(this.parentDir, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory() && pattern.test(e.name))
      .map((e) => `${this.parentDir}/${e.name}`);
  }

  /** Kills what is left in an attempt cgroup that no runtime here supervises, and removes it. */
  async removeGroup(dir: string): Promise<void> {
    const version = this.mechanism === 'cgroup-v2' ? 2 : 1;
    await CgroupMemoryCap.adopt(version, dir).release();
  }
}

function versionOf(m: 'cgroup-v1' | 'cgroup-v2'): CgroupVersion {
  return m === 'cgroup-v2' ? 2 : 1;
}

/**
 * Messages that programs print when an allocation fails: Node/V8, glibc/strerror, C++, Python, Perl, Go,
 * Java. Under an address-space rlimit nothing else tells an allocation failure from any other crash.
 */
const ALLOCATION_FAILURE =
  /out of memory|cannot allocate memory|allocation failed|failed to allocate|failed to reserve|bad_alloc|MemoryError|OutOfMemoryError/i;

/**
 * Fallback when no cgroup is writable: `prlimit --as=<bytes>` caps the address space (RLIMIT_AS), set
 * before the command execs, so there is no race. Best effort, and worse than a cgroup in three ways:
 * address space is not memory (Node/V8 reserves about 1.2 GB at start, the JVM and Go reserve more, so
 * such programs need a limit far above what they use, see `addressSpaceSlackMb`); the limit is per
 * process, not per job; and there is no kernel OOM verdict, only the program's own message about a failed
 * allocation on stderr (reported as evidence `rlimit`). There is no peak-memory reading either.
 */
class RlimitMemoryCap implements AttemptMemoryCap {
  readonly mechanism = 'rlimit' as const;
  readonly gated = false;
  readonly group = null;
  readonly argv: string[];
  private allocationFailure: string | undefined;

  constructor(
    prlimitPath: string,
    private readonly limitBytes: number,
    command: string[],
  ) {
    // `--` so that a command starting with a dash is not read as a prlimit option
    this.argv = [prlimitPath, `--as=${limitBytes}`, '--', ...command];
  }

  async attach(): Promise<void> {}

  noteStderr(line: string): void {
    if (this.allocationFailure === undefined && ALLOCATION_FAILURE.test(line))
      this.allocationFailure = line.slice(0, 500);
  }

  async killAll(): Promise<void> {}

  async report(exit: MainProcessExit): Promise<MemoryCapReport> {
    const failed = exit.exitCode !== 0 && !exit.killedByRuntime;
    const oomKilled = failed && this.allocationFailure !== undefined;
    return {
      oomKilled,
      peakMemoryMb: null,
      evidence: {
        memoryCap: this.mechanism,
        addressSpaceLimitBytes: this.limitBytes,
        ...(this.allocationFailure !== undefined ? { allocationFailure: this.allocationFailure } : {}),
        ...(oomKilled ? { oomEvidence: 'rlimit' } : {}),
      },
    };
  }

  async release(): Promise<undefined> {}
}

/** No cap at all (explicitly chosen, or a host with neither a writable cgroup nor prlimit). */
class NoMemoryCap implements AttemptMemoryCap {
  readonly mechanism = 'none' as const;
  readonly gated = false;
  readonly group = null;
  constructor(readonly argv: string[]) {}
  async attach(): Promise<void> {}
  noteStderr(): void {}
  async killAll(): Promise<void> {}
  async report(): Promise<MemoryCapReport> {
    return { oomKilled: false, peakMemoryMb: null, evidence: { memoryCap: this.mechanism } };
  }
  async release(): Promise<undefined> {}
}
