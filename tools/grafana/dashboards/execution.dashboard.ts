import {
  type DashboardSpec,
  POOL_VARIABLE,
  TARGET_VARIABLE,
  query,
  statPanel,
  timeseriesPanel,
} from '../prometheus-panels';

const POOL = 'pool=~"$pool"';
const POOL_TARGET = 'pool=~"$pool", target=~"$target"';
const RATE = '[$__rate_interval]';

/** p50, p95 and p99 of a histogram, summed over every process (the workers). */
function percentiles(histogram: string, selector: string) {
  return [0.5, 0.95, 0.99].map((q) =>
    query(
      `histogram_quantile(${q}, sum by (le) (rate(${histogram}_bucket{${selector}}${RATE})))`,
      `p${q * 100}`,
    ),
  );
}

/** Share of the attempts that ended with `status`. */
function attemptShare(status: string, by = '') {
  const group = by ? ` by (${by})` : '';
  return (
    `sum${group} (rate(agentfleet_job_attempts_total{status="${status}", ${POOL_TARGET}}${RATE})) / ` +
    `sum${group} (rate(agentfleet_job_attempts_total{${POOL_TARGET}}${RATE}))`
  );
}

export const executionDashboard: DashboardSpec = {
  uid: 'agentfleet-execution',
  title: 'AgentFleet / Execution',
  description:
    'Execution jobs and their attempts: outcomes by status, pool and target, OOM kills and timeouts, ' +
    'latency from enqueue to start, run time, container start, requeues, and circuit breakers per target.',
  variables: [POOL_VARIABLE, TARGET_VARIABLE],
  rows: [
    {
      title: 'Jobs',
      panels: [
        statPanel({
          title: 'Jobs finished',
          description:
            'Execution jobs reaching a final status, per second (counted once, by the control plane).',
          unit: 'ops',
          queries: [query(`sum(rate(agentfleet_jobs_finished_total{${POOL}}${RATE}))`)],
        }),
        statPanel({
          title: 'Completed',
          description: 'Share of the finished jobs that completed.',
          unit: 'percentunit',
          queries: [
            query(
              `sum(rate(agentfleet_jobs_finished_total{status="completed", ${POOL}}${RATE})) / ` +
                `sum(rate(agentfleet_jobs_finished_total{${POOL}}${RATE}))`,
            ),
          ],
        }),
        statPanel({
          title: 'OOM-killed attempts',
          description:
            'Share of the attempts the runtime killed for memory. AgentFleetHighOomRate fires at 10 %.',
          unit: 'percentunit',
          orangeFrom: 0.02,
          redFrom: 0.1,
          queries: [query(attemptShare('oom'))],
        }),
        statPanel({
          title: 'Timed-out attempts',
          description: 'Share of the attempts stopped at their deadline.',
          unit: 'percentunit',
          orangeFrom: 0.05,
          queries: [query(attemptShare('timed_out'))],
        }),
        timeseriesPanel({
          title: 'Jobs finished by status',
          description: 'completed, failed, oom, timed_out, cancelled, failed_circuit_open.',
          unit: 'ops',
          stacked: true,
          queries: [
            query(`sum by (status) (rate(agentfleet_jobs_finished_total{${POOL}}${RATE}))`, '{{status}}'),
          ],
        }),
        timeseriesPanel({
          title: 'Jobs finished by pool',
          description: 'Final statuses reached per pool, per second.',
          unit: 'ops',
          stacked: true,
          queries: [
            query(`sum by (pool) (rate(agentfleet_jobs_finished_total{${POOL}}${RATE}))`, '{{pool}}'),
          ],
        }),
        timeseriesPanel({
          title: 'Requeues by reason',
          description:
            'Attempts put back in their queue as attempt + 1: retry after a failure, OOM retry with more ' +
            'memory, worker lost, BullMQ lock expired.',
          unit: 'ops',
          size: { w: 12, h: 7 },
          queries: [
            query(
              `sum by (pool, reason) (rate(agentfleet_jobs_requeued_total{${POOL}}${RATE}))`,
              '{{pool}} {{reason}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Deferrals (targets full)',
          description:
            'Attempts a worker gave back to their queue unstarted, as the same attempt, because every target ' +
            'of the pool they may use was at its capacity.max_concurrent. Steady deferrals: raise the ' +
            "targets' max_concurrent or add a target to the pool.",
          unit: 'ops',
          size: { w: 12, h: 7 },
          queries: [
            query(`sum by (pool) (rate(agentfleet_job_deferrals_total{${POOL}}${RATE}))`, '{{pool}}'),
          ],
        }),
        timeseriesPanel({
          title: 'Target slots in use',
          description:
            'Containers running on each target across the fleet (the leases held) against its ' +
            'capacity.max_concurrent. A target at its limit defers the jobs that have no other target.',
          unit: 'short',
          size: { w: 24, h: 7 },
          queries: [
            query(
              `max by (target) (agentfleet_target_slots{state="in_use", ${POOL_TARGET}})`,
              '{{target}} in use',
            ),
            query(`max by (target) (agentfleet_target_slots{state="max", ${POOL_TARGET}})`, '{{target}} max'),
          ],
        }),
      ],
    },
    {
      title: 'Attempts',
      panels: [
        timeseriesPanel({
          title: 'Attempts by target and status',
          description:
            'How the attempts the workers ran ended (handed_back: the worker stopped before the end).',
          unit: 'ops',
          stacked: true,
          size: { w: 24, h: 8 },
          queries: [
            query(
              `sum by (target, status) (rate(agentfleet_job_attempts_total{${POOL_TARGET}}${RATE}))`,
              '{{target}} {{status}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'OOM kills and timeouts per target',
          description: 'Attempts per second that ended oom or timed_out.',
          unit: 'ops',
          queries: [
            query(
              `sum by (target) (rate(agentfleet_job_attempts_total{status="oom", ${POOL_TARGET}}${RATE}))`,
              '{{target}} oom',
            ),
            query(
              `sum by (target) (rate(agentfleet_job_attempts_total{status="timed_out", ${POOL_TARGET}}${RATE}))`,
              '{{target}} timed out',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'OOM share of attempts per pool',
          description: 'AgentFleetHighOomRate fires above 10 % for 15 minutes.',
          unit: 'percentunit',
          min: 0,
          redFrom: 0.1,
          queries: [query(attemptShare('oom', 'pool'), '{{pool}}')],
        }),
      ],
    },
    {
      title: 'Latency',
      panels: [
        timeseriesPanel({
          title: 'Enqueue → start',
          description:
            'From a job entering its queue to its container running: queueing plus container start.',
          unit: 's',
          queries: percentiles('agentfleet_job_enqueue_to_start_seconds', POOL),
        }),
        timeseriesPanel({
          title: 'Enqueue → start p95 per pool',
          description: 'A pool whose p95 climbs needs more workers (or its workers are busy with long jobs).',
          unit: 's',
          queries: [
            query(
              `histogram_quantile(0.95, sum by (le, pool) (rate(agentfleet_job_enqueue_to_start_seconds_bucket{${POOL}}${RATE})))`,
              '{{pool}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Run time',
          description: 'Container run time of the attempts, from start to exit, whatever their outcome.',
          unit: 's',
          queries: percentiles('agentfleet_job_duration_seconds', POOL_TARGET),
        }),
        timeseriesPanel({
          title: 'Container start by runtime and target',
          description: 'Create + start of a container (pod scheduling on Kubernetes): p50 and p95.',
          unit: 's',
          queries: [0.5, 0.95].map((q) =>
            query(
              `histogram_quantile(${q}, sum by (le, runtime, target) (rate(agentfleet_container_start_duration_seconds_bucket{target=~"$target"}${RATE})))`,
              `{{runtime}} {{target}} p${q * 100}`,
            ),
          ),
        }),
      ],
    },
    {
      title: 'Circuit breakers',
      panels: [
        timeseriesPanel({
          title: 'Breaker state per target',
          description:
            "Workers seeing each target's breaker closed, half open or open (every worker has its own breaker). " +
            'AgentFleetBreakerOpen fires when one stays open for 5 minutes.',
          unit: 'short',
          stacked: true,
          queries: [
            query(
              'sum by (target, state) (agentfleet_breaker_state{target=~"$target"})',
              '{{target}} {{state}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Breaker transitions',
          description: 'State changes, by the state entered.',
          unit: 'short',
          bars: true,
          queries: [
            query(
              `sum by (target, state) (increase(agentfleet_breaker_transitions_total{target=~"$target"}${RATE}))`,
              '{{target}} → {{state}}',
            ),
          ],
        }),
      ],
    },
  ],
};
