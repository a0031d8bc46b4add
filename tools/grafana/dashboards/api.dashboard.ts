import { type DashboardSpec, query, statPanel, timeseriesPanel } from '../prometheus-panels';

const ROUTE = 'route=~"$route"';
const RATE = '[$__rate_interval]';
const REQUESTS = 'agentfleet_http_request_duration_seconds';
/** Adds `component` to a per-process series (default prom-client metrics carry none) from the build info. */
const perComponent = (series: string) =>
  `${series} * on (job, instance) group_left (component) max by (job, instance, component) (agentfleet_build_info)`;

function latency(q: number) {
  return timeseriesPanel({
    title: `Latency p${q * 100} by route`,
    description: 'From arrival to the last byte; event streams are not included.',
    unit: 's',
    size: { w: 8, h: 8 },
    queries: [
      query(
        `histogram_quantile(${q}, sum by (le, method, route) (rate(${REQUESTS}_bucket{${ROUTE}}${RATE})))`,
        '{{method}} {{route}}',
      ),
    ],
  });
}

function errorShare(statuses: string) {
  return (
    `sum(rate(${REQUESTS}_count{${ROUTE}, status=~"${statuses}"}${RATE})) / ` +
    `sum(rate(${REQUESTS}_count{${ROUTE}}${RATE}))`
  );
}

export const apiDashboard: DashboardSpec = {
  uid: 'agentfleet-api',
  title: 'AgentFleet / API',
  description:
    'The control plane API: requests by route, latency percentiles, 4xx and 5xx, open event streams, and ' +
    'CPU, memory and event-loop lag of every AgentFleet process.',
  variables: [{ name: 'route', label: 'Route', series: `${REQUESTS}_count` }],
  rows: [
    {
      title: 'Traffic',
      panels: [
        statPanel({
          title: 'Requests',
          description:
            'Requests per second over every replica (event streams, probes and /metrics excluded).',
          unit: 'reqps',
          queries: [query(`sum(rate(${REQUESTS}_count{${ROUTE}}${RATE}))`)],
        }),
        statPanel({
          title: '5xx',
          description: 'Share of the requests answered 5xx. AgentFleetApiErrors fires at 5 %.',
          unit: 'percentunit',
          orangeFrom: 0.01,
          redFrom: 0.05,
          queries: [query(errorShare('5..'))],
        }),
        statPanel({
          title: '4xx',
          description: 'Share of the requests answered 4xx (bad input, auth, not found, rate limited).',
          unit: 'percentunit',
          queries: [query(errorShare('4..'))],
        }),
        statPanel({
          title: 'Open event streams',
          description: 'Server-sent event streams of job events open now, over every replica.',
          unit: 'short',
          queries: [query('sum(agentfleet_http_event_streams_open)')],
        }),
        timeseriesPanel({
          title: 'Requests by route',
          description: 'Per route pattern and method.',
          unit: 'reqps',
          queries: [
            query(
              `sum by (method, route) (rate(${REQUESTS}_count{${ROUTE}}${RATE}))`,
              '{{method}} {{route}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Open event streams per replica',
          description: 'SSE clients following job events, per control-plane process.',
          unit: 'short',
          queries: [query('sum by (instance) (agentfleet_http_event_streams_open)', '{{instance}}')],
        }),
      ],
    },
    { title: 'Latency', panels: [latency(0.5), latency(0.95), latency(0.99)] },
    {
      title: 'Errors',
      panels: [
        timeseriesPanel({
          title: '5xx by route',
          description: 'Server errors per second, by route, method and status.',
          unit: 'reqps',
          queries: [
            query(
              `sum by (method, route, status) (rate(${REQUESTS}_count{${ROUTE}, status=~"5.."}${RATE}))`,
              '{{method}} {{route}} {{status}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: '4xx by route',
          description: 'Client errors per second, by route, method and status.',
          unit: 'reqps',
          queries: [
            query(
              `sum by (method, route, status) (rate(${REQUESTS}_count{${ROUTE}, status=~"4.."}${RATE}))`,
              '{{method}} {{route}} {{status}}',
            ),
          ],
        }),
      ],
    },
    {
      title: 'Processes',
      panels: [
        timeseriesPanel({
          title: 'Processes by component and version',
          description: 'AgentFleet processes Prometheus scrapes (agentfleet_build_info).',
          unit: 'short',
          stacked: true,
          queries: [
            query('count by (component, version) (agentfleet_build_info)', '{{component}} {{version}}'),
          ],
        }),
        timeseriesPanel({
          title: 'CPU per process',
          description: 'CPU seconds per second (1 = one core), user + system.',
          unit: 'percentunit',
          queries: [
            query(
              `sum by (component, instance) (${perComponent(`rate(process_cpu_seconds_total${RATE})`)})`,
              '{{component}} {{instance}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Resident memory per process',
          description: 'Resident set size.',
          unit: 'bytes',
          queries: [
            query(
              `sum by (component, instance) (${perComponent('process_resident_memory_bytes')})`,
              '{{component}} {{instance}}',
            ),
          ],
        }),
        timeseriesPanel({
          title: 'Event-loop lag p99 per process',
          description: 'A busy event loop delays heartbeats, HTTP answers and stream consumption alike.',
          unit: 's',
          queries: [
            query(
              `max by (component, instance) (${perComponent('nodejs_eventloop_lag_p99_seconds')})`,
              '{{component}} {{instance}}',
            ),
          ],
        }),
      ],
    },
  ],
};
