import { type DashboardSpec, POOL_VARIABLE, query, statPanel, timeseriesPanel } from '../prometheus-panels';

const POOL = 'pool=~"$pool"';
/** The fleet gauges come from the replica holding the leader lock: max, never sum, over replicas. */
const workers = (selector: string) => `sum(max by (status, scheduling) (agentfleet_workers{${selector}}))`;

export const fleetDashboard: DashboardSpec = {
  uid: 'agentfleet-fleet',
  title: 'AgentFleet / Fleet',
  description:
    'Workers and their liveness: registered workers by status and scheduling, heartbeat lag against the ' +
    'interval and the grace period, job slots per pool, lost workers, and the heartbeats as the workers see them.',
  variables: [POOL_VARIABLE],
  rows: [
    {
      title: 'Workers',
      panels: [
        statPanel({
          title: 'Online, taking jobs',
          description: 'Workers online and neither draining nor cordoned (agentfleet_workers).',
          unit: 'short',
          queries: [query(workers('status="online", scheduling="active"'))],
        }),
        statPanel({
          title: 'Draining or cordoned',
          description: 'Online workers an operator took out of scheduling (they finish what they run).',
          unit: 'short',
          orangeFrom: 1,
          queries: [query(workers('status="online", scheduling!="active"'))],
        }),
        statPanel({
          title: 'Lost',
          description:
            'Workers whose heartbeat stopped for longer than the grace period; their jobs were handed back.',
          unit: 'short',
          redFrom: 1,
          queries: [query(workers('status="lost"'))],
        }),
        statPanel({
          title: 'Reaper leaders',
          description:
            'Control-plane replicas holding the reaper leader lock (agentfleet_leader). 1 is healthy; with 0 ' +
            'nobody declares workers lost and the fleet and queue gauges are missing.',
          unit: 'short',
          queries: [query('sum(agentfleet_leader)')],
        }),
        timeseriesPanel({
          title: 'Workers by status and scheduling',
          description: 'Every registered worker, by status (online, lost, offline) and scheduling.',
          unit: 'short',
          stacked: true,
          queries: [query('max by (status, scheduling) (agentfleet_workers)', '{{status}} / {{scheduling}}')],
        }),
        timeseriesPanel({
          title: 'Workers taking jobs, per pool',
          description:
            'Online, active workers that serve each pool (a worker serving two pools counts in both). ' +
            'A pool at 0 with waiting jobs fires AgentFleetPoolWithoutWorkers.',
          unit: 'short',
          min: 0,
          queries: [query(`max by (pool) (agentfleet_pool_workers_online{${POOL}})`, '{{pool}}')],
        }),
      ],
    },
    {
      title: 'Liveness',
      panels: [
        timeseriesPanel({
          title: 'Heartbeat lag vs interval',
          description:
            'Age of the oldest heartbeat among live workers (Redis clock), against the heartbeat interval and ' +
            'the grace period after which a worker is declared lost. Healthy: under one interval.',
          unit: 's',
          min: 0,
          queries: [
            query('max(agentfleet_worker_heartbeat_lag_seconds)', 'oldest heartbeat'),
            query('max(agentfleet_worker_heartbeat_interval_seconds)', 'interval'),
            query('max(agentfleet_worker_grace_period_seconds)', 'grace period'),
          ],
        }),
        timeseriesPanel({
          title: 'Workers lost and recovered',
          description: 'Workers the reaper declared lost, and lost workers whose heartbeat came back.',
          unit: 'short',
          bars: true,
          queries: [
            query('sum(increase(agentfleet_workers_lost_total[$__rate_interval]))', 'lost'),
            query('sum(increase(agentfleet_workers_recovered_total[$__rate_interval]))', 'recovered'),
          ],
        }),
        timeseriesPanel({
          title: 'Reaper cycle duration',
          description: 'One cycle of the leader: find lost workers and hand their jobs back.',
          unit: 's',
          size: { w: 24, h: 7 },
          queries: [0.5, 0.99].map((q) =>
            query(
              `histogram_quantile(${q}, sum by (le) (rate(agentfleet_reaper_cycle_duration_seconds_bucket[$__rate_interval])))`,
              `p${q * 100}`,
            ),
          ),
        }),
      ],
    },
    {
      title: 'Job slots',
      panels: [
        timeseriesPanel({
          title: 'Slots per pool: busy and free',
          description:
            'Job slots of the workers taking jobs, as their last heartbeats tell. A worker serving two pools ' +
            'counts its slots in each.',
          unit: 'short',
          stacked: true,
          queries: [query(`max by (pool, state) (agentfleet_pool_slots{${POOL}})`, '{{pool}} {{state}}')],
        }),
        timeseriesPanel({
          title: 'Slot utilisation per pool',
          description: 'Busy slots over all slots of the pool.',
          unit: 'percentunit',
          min: 0,
          queries: [
            query(
              `max by (pool) (agentfleet_pool_slots{state="busy", ${POOL}}) / ` +
                `(max by (pool) (agentfleet_pool_slots{state="busy", ${POOL}}) + max by (pool) (agentfleet_pool_slots{state="free", ${POOL}}))`,
              '{{pool}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Busy slots per worker process',
          description: 'From each worker itself (agentfleet_worker_slots), whatever pools it serves.',
          unit: 'short',
          size: { w: 24, h: 7 },
          queries: [query('sum by (instance) (agentfleet_worker_slots{state="busy"})', '{{instance}}')],
        }),
      ],
    },
    {
      title: 'Worker heartbeats',
      panels: [
        timeseriesPanel({
          title: 'Heartbeats by result',
          description: 'Heartbeats the workers sent: ok, or error (Redis did not take it).',
          unit: 'cps',
          stacked: true,
          queries: [
            query(
              'sum by (result) (rate(agentfleet_worker_heartbeats_total[$__rate_interval]))',
              '{{result}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Heartbeat errors per worker',
          description: 'A worker whose heartbeats keep failing is declared lost after the grace period.',
          unit: 'cps',
          queries: [
            query(
              'sum by (instance) (rate(agentfleet_worker_heartbeats_total{result="error"}[$__rate_interval]))',
              '{{instance}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Heartbeat round trip',
          description: 'One heartbeat: a Lua call in Redis.',
          unit: 's',
          size: { w: 24, h: 7 },
          queries: [0.5, 0.99].map((q) =>
            query(
              `histogram_quantile(${q}, sum by (le) (rate(agentfleet_worker_heartbeat_duration_seconds_bucket[$__rate_interval])))`,
              `p${q * 100}`,
            ),
          ),
        }),
      ],
    },
  ],
};
