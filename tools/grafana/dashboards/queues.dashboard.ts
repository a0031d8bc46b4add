import { type DashboardSpec, POOL_VARIABLE, query, statPanel, timeseriesPanel } from '../prometheus-panels';

const POOL = 'pool=~"$pool"';
const RATE = '[$__rate_interval]';
/** Queue gauges come from the replica holding the leader lock: max, never sum, over replicas. */
const depth = (states: string) =>
  `max by (queue, state) (agentfleet_queue_jobs{${POOL}, state=~"${states}"})`;

export const queuesDashboard: DashboardSpec = {
  uid: 'agentfleet-queues',
  title: 'AgentFleet / Queues',
  description:
    'Pool queues (BullMQ): depth by state, age of the oldest waiting entry, paused queues, submitted vs ' +
    'finished throughput, and the job-event stream the control plane persists to PostgreSQL.',
  variables: [POOL_VARIABLE],
  rows: [
    {
      title: 'Depth',
      panels: [
        statPanel({
          title: 'Waiting',
          description: 'Entries due and waiting for a worker (waiting + prioritized).',
          unit: 'short',
          queries: [query(`sum(${depth('waiting|prioritized')})`)],
        }),
        statPanel({
          title: 'Active',
          description: 'Entries a worker holds.',
          unit: 'short',
          queries: [query(`sum(${depth('active')})`)],
        }),
        statPanel({
          title: 'Oldest waiting',
          description:
            'Age of the oldest waiting entry of any selected queue. AgentFleetQueueBacklogOld fires at 15 minutes.',
          unit: 's',
          orangeFrom: 300,
          redFrom: 900,
          queries: [query(`max(agentfleet_queue_oldest_waiting_seconds{${POOL}})`)],
        }),
        statPanel({
          title: 'Paused queues',
          description: 'Queues an operator paused (POST /api/v1/admin/queues/{pool}/pause).',
          unit: 'short',
          orangeFrom: 1,
          queries: [query(`sum(max by (queue) (agentfleet_queue_paused{${POOL}}))`)],
        }),
        timeseriesPanel({
          title: 'Depth by queue and state',
          description: 'waiting, prioritized, delayed (retry backoff), active, paused.',
          unit: 'short',
          queries: [query(depth('waiting|prioritized|delayed|active|paused'), '{{queue}} {{state}}')],
        }),
        timeseriesPanel({
          title: 'Oldest waiting entry per queue',
          description: 'How long the oldest due entry has waited (0 when none waits).',
          unit: 's',
          min: 0,
          redFrom: 900,
          queries: [query(`max by (queue) (agentfleet_queue_oldest_waiting_seconds{${POOL}})`, '{{queue}}')],
        }),
        timeseriesPanel({
          title: 'Failed and completed entries kept',
          description:
            'Entries BullMQ keeps after they ended; failed ones are payload errors or stalls ' +
            '(retry-failed and clean in the admin API).',
          unit: 'short',
          queries: [query(depth('failed|completed'), '{{queue}} {{state}}')],
        }),
        statPanel({
          title: 'Paused',
          description: 'Each selected queue: running or paused.',
          unit: 'short',
          size: { w: 12, h: 8 },
          valueTexts: { '0': { text: 'running', color: 'green' }, '1': { text: 'paused', color: 'orange' } },
          queries: [query(`max by (queue) (agentfleet_queue_paused{${POOL}})`, '{{queue}}')],
        }),
      ],
    },
    {
      title: 'Throughput',
      panels: [
        timeseriesPanel({
          title: 'Submitted vs finished',
          description:
            'Jobs accepted by the API and jobs reaching a final status. Submitted above finished: the backlog grows.',
          unit: 'ops',
          queries: [
            query(`sum(rate(agentfleet_jobs_submitted_total{${POOL}}${RATE}))`, 'submitted'),
            query(`sum(rate(agentfleet_jobs_finished_total{${POOL}}${RATE}))`, 'finished'),
          ],
        }),
        timeseriesPanel({
          title: 'Submitted per pool',
          description: 'Jobs accepted by the API per pool (an idempotent replay is not counted).',
          unit: 'ops',
          stacked: true,
          queries: [
            query(`sum by (pool) (rate(agentfleet_jobs_submitted_total{${POOL}}${RATE}))`, '{{pool}}'),
          ],
        }),
      ],
    },
    {
      title: 'Job-event stream',
      panels: [
        timeseriesPanel({
          title: 'Consumer group lag and pending',
          description:
            'lag: entries of the firehose not yet delivered to the control plane; pending: delivered but not ' +
            'yet committed to PostgreSQL and acknowledged.',
          unit: 'short',
          queries: [
            query('max by (stream) (agentfleet_stream_consumer_lag)', '{{stream}} lag'),
            query('max by (stream) (agentfleet_stream_consumer_pending)', '{{stream}} pending'),
          ],
        }),
        timeseriesPanel({
          title: 'Events persisted',
          description:
            'Events read by the consumer group: stored, or dropped (older attempt, job already final).',
          unit: 'cps',
          stacked: true,
          queries: [
            query(
              'sum by (result) (rate(agentfleet_job_events_persisted_total[$__rate_interval]))',
              '{{result}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Batch commit latency',
          description: 'Time to commit one batch of events to PostgreSQL.',
          unit: 's',
          queries: [0.5, 0.99].map((q) =>
            query(
              `histogram_quantile(${q}, sum by (le) (rate(agentfleet_job_events_batch_duration_seconds_bucket${RATE})))`,
              `p${q * 100}`,
            ),
          ),
        }),
        timeseriesPanel({
          title: 'Batches committed',
          description: 'Batches per second, over every replica.',
          unit: 'cps',
          queries: [query(`sum(rate(agentfleet_job_events_batch_duration_seconds_count${RATE}))`, 'batches')],
        }),
      ],
    },
  ],
};
