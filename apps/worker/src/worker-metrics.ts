import type { ExecutionRunPayload } from '@agentfleet/contracts';
import type { BreakerState, CircuitBreakers, RunSummary } from '@agentfleet/execution';
import type { HeartbeatSender } from '@agentfleet/fleet';
import type { Metrics } from '@agentfleet/infra-observability';

type Target = ExecutionRunPayload['targets'][number];
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half_open', 'open'];

/**
 * The worker's series (metric-catalog.ts): slots, heartbeats, attempts and their timings, breakers.
 * Targets are labelled by name (operators configure them; a bounded set), never by job or worker.
 */
export class WorkerMetrics {
  /** Target names by id, as the payloads told: breaker callbacks only know the id. */
  private readonly targetNames = new Map<string, string>();

  constructor(readonly metrics: Metrics) {}

  /** Refreshes the slot and breaker gauges before each scrape. */
  watch(slots: () => { busy: number; free: number }, breakers: CircuitBreakers): void {
    this.metrics.addCollector(() => {
      const s = slots();
      const g = this.metrics.gauge('workerSlots');
      g.set({ state: 'busy' }, s.busy);
      g.set({ state: 'free' }, s.free);
      const b = this.metrics.gauge('breakerState');
      for (const [id, state] of Object.entries(breakers.states()))
        for (const st of BREAKER_STATES)
          b.set({ target: this.targetName(id), state: st }, st === state ? 1 : 0);
    });
  }

  breakerChanged(targetId: string, state: BreakerState): void {
    this.metrics.counter('breakerTransitions').inc({ target: this.targetName(targetId), state });
  }

  /** Times each heartbeat and counts the ones Redis did not take. */
  timedHeartbeats(sender: HeartbeatSender): HeartbeatSender {
    const duration = this.metrics.histogram('workerHeartbeatDuration');
    const beats = this.metrics.counter('workerHeartbeats');
    return {
      beat: async (b) => {
        const end = duration.startTimer();
        try {
          const r = await sender.beat(b);
          beats.inc({ result: 'ok' });
          return r;
        } catch (e) {
          beats.inc({ result: 'error' });
          throw e;
        } finally {
          end();
        }
      },
    };
  }

  /**
   * One attempt ended on this worker; `enqueuedAt` is when the queue entry became due (epoch ms). A
   * deferred attempt did not end (it never started and is queued again): not counted, and its wait goes
   * into the enqueue→start time of the take that starts it.
   */
  attemptEnded(payload: ExecutionRunPayload, summary: RunSummary, enqueuedAt: number | undefined): void {
    if (summary.status === 'deferred') {
      this.metrics.counter('jobDeferrals').inc({ pool: payload.pool });
      return;
    }
    const target = summary.targetId ? this.targetName(summary.targetId) : 'none';
    const status = summary.handedBack ? 'handed_back' : summary.status;
    const labels = { pool: payload.pool, target, status };
    this.metrics.counter('jobAttempts').inc(labels);
    const t = summary.timing;
    if (!t) return;
    this.metrics.histogram('jobDuration').observe(labels, t.runMs / 1000);
    const runtime = payload.targets.find((x) => x.id === summary.targetId)?.type ?? 'unknown';
    this.metrics.histogram('containerStart').observe({ runtime, target }, t.startMs / 1000);
    if (enqueuedAt !== undefined)
      this.metrics
        .histogram('jobEnqueueToStart')
        .observe({ pool: payload.pool }, Math.max(0, t.startedAt - enqueuedAt) / 1000);
  }

  remember(t: Target): void {
    this.targetNames.set(t.id, t.name);
  }

  private targetName(id: string): string {
    return this.targetNames.get(id) ?? id;
  }
}
