import type {
  WorkerControlMessage,
  WorkerRegisterRequest,
  WorkerRegisterResponse,
} from '@agentfleet/contracts';

export interface WorkerBeat {
  workerId: string;
  tokenId: string;
  ttlMs: number;
  status: 'online' | 'draining' | 'drained' | 'cordoned' | 'stopping';
  version: string;
  hostname: string;
  running: string[];
  freeSlots: number;
}

export type HeartbeatOutcome =
  | { outcome: 'ok'; at: Date; controls: WorkerControlMessage[] }
  /** Redis has no state for the token (Redis restarted): register again. */
  | { outcome: 'unknown'; controls: [] }
  | { outcome: 'revoked'; controls: [] }
  | { outcome: 'expired'; controls: [] };

/** Port: one heartbeat into Redis (worker side). */
export interface HeartbeatSender {
  beat(b: WorkerBeat): Promise<HeartbeatOutcome>;
}

/** Raised by a ControlPlaneClient when retrying cannot help (bad token, incompatible protocol). */
export class PermanentRegistrationError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'PermanentRegistrationError';
  }
}

/** Port: the worker's HTTP calls to the control plane. */
export interface ControlPlaneClient {
  register(req: WorkerRegisterRequest): Promise<WorkerRegisterResponse & { scheduling: string }>;
  deregister(workerId: string, reason: string): Promise<void>;
}

/** Port: what the worker runs; the lifecycle asks it to stop taking work and to report its load. */
export interface Workload {
  running(): string[];
  freeSlots(): number;
  /** Stop taking new work (drain, cordon, shutdown). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Resolves when nothing runs, or after `timeoutMs` with what is still running handed back. */
  settle(timeoutMs: number): Promise<void>;
}

export interface LifecycleLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}
