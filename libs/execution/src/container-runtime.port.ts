/** What a runtime runs: one attempt of one execution job. */
export interface RunSpec {
  jobId: string;
  attempt: number;
  organizationId: string;
  image: string;
  /** argv; never a shell string. */
  command: string[];
  /** Plain variables; a runtime may write them where anyone reading the container's spec sees them. */
  env: Record<string, string>;
  /**
   * Variables whose values are secret (opened secret references, an engine's API key): a runtime keeps
   * them out of any object it stores in the orchestrator in plain text. Never a variable of `env` too.
   */
  secretEnv: Record<string, string>;
  memoryLimitMb: number;
  /** CPU share in cores (0.5 = half a core). */
  cpu: number;
  pidsLimit: number;
  /** Wall-clock limit from start; the runtime kills the container and reports `timedOut`. */
  timeoutMs: number;
  /** No network unless the job asks for one. */
  network: boolean;
}

export interface RunOutcome {
  containerId: string;
  exitCode: number | null;
  /** Decided from the engine's own evidence (Docker State.OOMKilled, Kubernetes reason OOMKilled, cgroup oom_control). */
  oomKilled: boolean;
  timedOut: boolean;
  cancelled: boolean;
  /** The engine's raw evidence, stored with the job (State, terminated status, cgroup counters). */
  evidence: Record<string, unknown>;
  peakMemoryMb: number | null;
  /** Create → running, for the container-start-latency histogram. */
  startLatencyMs: number;
  startedAt: Date;
  finishedAt: Date;
}

export interface RunIO {
  /** Each complete stdout line, in order, without its newline. */
  onStdout(line: string): void;
  onStderr(line: string): void;
  /** Aborted → stop the container within seconds and report `cancelled`. */
  signal: AbortSignal;
  /** Called once the container is running, with its id. */
  onStarted?(containerId: string): void;
}

/** Port: where execution jobs run (Docker, Kubernetes, a local process). One instance per execution target. */
export interface ContainerRuntime {
  readonly kind: 'docker' | 'kubernetes' | 'process';
  /** Runs the attempt to its end. Rejects only when the target itself fails (unreachable, API error). */
  run(spec: RunSpec, io: RunIO): Promise<RunOutcome>;
  /** Fencing: removes every container labelled with the job id (older attempts left by a dead worker). */
  removeOrphans(jobId: string): Promise<number>;
  /** Cheap reachability probe (the circuit breaker's half-open check). */
  ping(): Promise<void>;
}

/** Labels every runtime puts on what it creates. */
export const JOB_LABEL = 'agentfleet.job_id';
export const ATTEMPT_LABEL = 'agentfleet.attempt';
export const ORG_LABEL = 'agentfleet.organization_id';
