import type {
  WorkerControlMessage,
  WorkerRegisterRequest,
  WorkerRegisterResponse,
} from '@agentfleet/contracts';
import {
  type ControlPlaneClient,
  type HeartbeatSender,
  type LifecycleLogger,
  PermanentRegistrationError,
  type WorkerBeat,
  type Workload,
} from './worker-side.ports';

export interface WorkerLifecycleOptions {
  registration: WorkerRegisterRequest;
  client: ControlPlaneClient;
  /** Heartbeats go to the Redis namespace the control plane names at registration. */
  heartbeatFor: (redisKeyPrefix: string) => HeartbeatSender;
  workload: Workload;
  logger: LifecycleLogger;
  /** Backoff between failed registrations / heartbeats. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long a stopping worker waits for running work before handing it back. */
  shutdownGraceMs?: number;
}

export type StopReason =
  { kind: 'signal'; signal: string } | { kind: 'revoked' | 'expired' | 'fatal' | 'control'; message: string };

/**
 * A worker's life: register (retrying with backoff while the control plane is away), heartbeat every
 * interval, obey control messages, and stop cleanly. Framework-free; the worker app wires it.
 */
export class WorkerLifecycle {
  private session: (WorkerRegisterResponse & { scheduling: string }) | undefined;
  private scheduling: 'active' | 'cordoned' | 'draining' = 'active';
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private beatFailures = 0;
  private readonly stopped: Promise<StopReason>;
  private resolveStopped!: (r: StopReason) => void;
  private readonly backoff: { initialMs: number; maxMs: number };
  private heartbeat: HeartbeatSender | undefined;
  private heartbeatPrefix: string | undefined;
  /** A reload the control plane asked for that has not succeeded yet. */
  private reloadPending = false;

  constructor(private readonly o: WorkerLifecycleOptions) {
    this.backoff = o.backoff ?? { initialMs: 500, maxMs: 15_000 };
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  get workerId(): string | undefined {
    return this.session?.worker_id;
  }
  get currentSession() {
    return this.session;
  }
  get schedulingState() {
    return this.scheduling;
  }
  /** Resolves with the reason once the worker has stopped. */
  whenStopped(): Promise<StopReason> {
    return this.stopped;
  }

  /** Registers (retrying until it works or cannot), then starts heartbeating. */
  async start(): Promise<WorkerRegisterResponse> {
    const session = await this.registerWithBackoff();
    this.scheduleBeat(0);
    return session;
  }

  /** SIGTERM: stop taking work, let running work finish (or hand it back), deregister. */
  async stop(reason: StopReason): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.o.logger.info('worker stopping', { reason: describe(reason) });
    await this.o.workload.pause();
    await this.o.workload.settle(this.o.shutdownGraceMs ?? 30_000);
    if (this.session && reason.kind !== 'revoked' && reason.kind !== 'expired') {
      try {
        await this.o.client.deregister(this.session.worker_id, describe(reason));
        this.o.logger.info('worker deregistered', { worker_id: this.session.worker_id });
      } catch (e) {
        // the reaper marks it lost after the grace period anyway
        this.o.logger.warn('deregistration failed; the control plane will mark this worker lost', {
          error: errMessage(e),
        });
      }
    }
    this.resolveStopped(reason);
  }

  /**
   * One registration: the session (token settings: pools, capabilities, concurrency) replaces the
   * previous one, and the workload is resumed — taking the new settings — or paused, as the control
   * plane says. Registering again keeps the worker's id.
   */
  private async registerOnce(): Promise<WorkerRegisterResponse & { scheduling: string }> {
    const s = await this.o.client.register(this.o.registration);
    this.session = s;
    if (this.heartbeatPrefix !== s.redis_key_prefix) {
      this.heartbeat = this.o.heartbeatFor(s.redis_key_prefix);
      this.heartbeatPrefix = s.redis_key_prefix;
    }
    this.scheduling = s.scheduling === 'cordoned' || s.scheduling === 'draining' ? s.scheduling : 'active';
    if (this.scheduling === 'active') await this.o.workload.resume();
    else await this.o.workload.pause();
    this.o.logger.info('worker registered', {
      worker_id: s.worker_id,
      queues: s.queues,
      concurrency: s.concurrency,
      heartbeat_interval_ms: s.heartbeat_interval_ms,
      scheduling: this.scheduling,
    });
    return s;
  }

  private async registerWithBackoff(): Promise<WorkerRegisterResponse & { scheduling: string }> {
    let delay = this.backoff.initialMs;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) throw new Error('worker is stopping');
      try {
        return await this.registerOnce();
      } catch (e) {
        if (e instanceof PermanentRegistrationError) {
          this.o.logger.error('registration refused; not retrying', { status: e.status, error: e.message });
          throw e;
        }
        this.o.logger.warn('control plane unreachable; retrying registration', {
          attempt,
          retry_in_ms: delay,
          error: errMessage(e),
        });
        await sleep(jitter(delay));
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    }
  }

  private scheduleBeat(ms: number) {
    if (this.stopping) return;
    this.timer = setTimeout(() => void this.beatOnce(), ms);
  }

  private async beatOnce(): Promise<void> {
    const s = this.session;
    const heartbeat = this.heartbeat;
    if (!s || !heartbeat || this.stopping) return;
    const beat: WorkerBeat = {
      workerId: s.worker_id,
      tokenId: s.token_id,
      ttlMs: s.heartbeat_interval_ms * 3,
      status: this.liveStatus(),
      version: this.o.registration.version,
      hostname: this.o.registration.hostname,
      running: this.o.workload.running(),
      freeSlots: this.scheduling === 'active' ? this.o.workload.freeSlots() : 0,
    };
    try {
      const res = await heartbeat.beat(beat);
      if (this.beatFailures > 0)
        this.o.logger.info('Redis reachable again; heartbeats resumed', { failures: this.beatFailures });
      this.beatFailures = 0;
      switch (res.outcome) {
        case 'ok':
          // several reloads (the token changed twice, the reaper repeated one) need one registration
          for (const c of res.controls) if (c.type !== 'reload') await this.apply(c);
          if (res.controls.some((c) => c.type === 'reload')) await this.apply({ type: 'reload' });
          else if (this.reloadPending) await this.reload();
          break;
        case 'revoked':
          this.o.logger.error('worker token revoked; stopping', { worker_id: s.worker_id });
          void this.stop({ kind: 'revoked', message: 'worker token revoked' });
          return;
        case 'expired':
          this.o.logger.error('worker token expired; stopping', { worker_id: s.worker_id });
          void this.stop({ kind: 'expired', message: 'worker token expired' });
          return;
        case 'unknown':
          this.o.logger.warn('Redis has no state for this worker (Redis restarted?); registering again');
          try {
            await this.registerWithBackoff();
          } catch (e) {
            void this.stop({ kind: 'fatal', message: errMessage(e) });
            return;
          }
          this.scheduleBeat(0);
          return;
      }
      this.scheduleBeat(s.heartbeat_interval_ms);
    } catch (e) {
      this.beatFailures++;
      const retry = Math.min(
        s.heartbeat_interval_ms,
        this.backoff.initialMs * 2 ** Math.min(this.beatFailures - 1, 6),
      );
      this.o.logger.warn('heartbeat failed: Redis unreachable; retrying', {
        failures: this.beatFailures,
        retry_in_ms: retry,
        error: errMessage(e),
      });
      this.scheduleBeat(retry);
    }
  }

  private async apply(c: WorkerControlMessage): Promise<void> {
    this.o.logger.info('control message received', { type: c.type });
    switch (c.type) {
      case 'drain':
        this.scheduling = 'draining';
        await this.o.workload.pause();
        return;
      case 'cordon':
        if (this.scheduling !== 'draining') this.scheduling = 'cordoned';
        await this.o.workload.pause();
        return;
      case 'uncordon':
        this.scheduling = 'active';
        await this.o.workload.resume();
        return;
      case 'stop':
        void this.stop({ kind: 'control', message: c.reason });
        return;
      case 'reload':
        await this.reload();
        return;
    }
  }

  /**
   * The token's settings changed: register again to take them (running work goes on). One attempt per
   * heartbeat, so heartbeats keep flowing while the control plane is away; retried with the next ones.
   */
  private async reload(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.registerOnce();
      this.reloadPending = false;
    } catch (e) {
      if (e instanceof PermanentRegistrationError) {
        this.o.logger.error('registration refused while taking new token settings; stopping', {
          status: e.status,
          error: e.message,
        });
        void this.stop({ kind: 'fatal', message: e.message });
        return;
      }
      this.reloadPending = true;
      this.o.logger.warn('could not take new token settings (control plane unreachable); retrying', {
        error: errMessage(e),
      });
    }
  }

  private liveStatus(): WorkerBeat['status'] {
    if (this.stopping) return 'stopping';
    if (this.scheduling === 'draining') return this.o.workload.running().length ? 'draining' : 'drained';
    if (this.scheduling === 'cordoned') return 'cordoned';
    return 'online';
  }
}

function describe(r: StopReason): string {
  return r.kind === 'signal' ? `signal ${r.signal}` : `${r.kind}: ${r.message}`;
}
function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
