import {
  type Component,
  METRICS,
  type MetricDefinition,
  exportedMetricNames,
} from '@agentfleet/infra-observability';
import { waitFor } from '@agentfleet/testing';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type InProcessControlPlane, startInProcessControlPlane } from './support/in-process-control-plane';
import { type RunningProcess, freePort, startExecutionWorker } from './support/processes';

const ROOT = join(__dirname, '../..');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format: the names of the TYPE lines, and every sample. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** The names a scrape exposes, histogram series included (`_bucket`, `_sum`, `_count`). */
function exposed(types: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [name, type] of types) {
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

/** Metric names the dashboards and alert rules of deploy/ use in their PromQL. */
function namesUsedByDeployArtifacts(): { file: string; names: string[] }[] {
  const files = [
    ...(existsSync(join(ROOT, 'deploy/grafana/dashboards'))
      ? readdirSync(join(ROOT, 'deploy/grafana/dashboards'))
          .filter((f) => f.endsWith('.json'))
          .map((f) => join('deploy/grafana/dashboards', f))
      : []),
    'deploy/prometheus/alerts.yaml',
  ].filter((f) => existsSync(join(ROOT, f)));
  return files.map((file) => ({
    file,
    names: [
      ...new Set(
        [
          ...readFileSync(join(ROOT, file), 'utf8').matchAll(
            /\b((?:agentfleet|process|nodejs)_[a-z0-9_]+)\b/g,
          ),
        ].map((m) => m[1]!),
      ),
    ],
  }));
}

describe('Prometheus metrics of a running control plane and worker', () => {
  let cp: InProcessControlPlane & { url: string };
  let worker: RunningProcess;
  let workerMetricsUrl: string;

  const scrape = async (url: string) => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parseExposition(await res.text());
  };
  const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0);

  beforeAll(async () => {
    cp = await startInProcessControlPlane({
      AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
      AGENTFLEET_WORKER_GRACE_PERIOD_MS: '3000',
    });
    await cp
      .as(cp.adminKey)
      .post('/api/v1/execution-targets', {
        name: 'metrics-processes',
        type: 'process',
        worker_pool: 'default',
      })
      .expect(201);
    const token = (
      await cp
        .as(cp.adminKey)
        .post('/api/v1/worker-tokens', { name: 'metrics-worker', capabilities: ['execute'] })
        .expect(201)
    ).body as { token: string };
    const port = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = await startExecutionWorker(token.token, cp.url, {
      AGENTFLEET_WORKER_INSTANCE_ID: 'metrics-worker-1',
      AGENTFLEET_WORKER_RUNTIMES: 'process',
      AGENTFLEET_WORKER_HEALTH_PORT: String(port),
      AGENTFLEET_WORKER_HEALTH_HOST: '127.0.0.1',
      AGENTFLEET_WORKER_SLOTS: '2',
    });

    // traffic of every kind: a completed and a failed job, a 404 and a 401
    const submit = async (command: string[]) =>
      (
        (await cp.as(cp.adminKey).post('/api/v1/jobs', { command, timeout_seconds: 60 }).expect(201))
          .body as {
          id: string;
        }
      ).id;
    const ok = await submit(['node', '-e', 'console.log(JSON.stringify({v:1,type:"result",output:1}))']);
    const bad = await submit(['node', '-e', 'process.exit(3)']);
    for (const id of [ok, bad])
      await waitFor(
        async () => {
          const j = (await cp.as(cp.adminKey).get(`/api/v1/jobs/${id}`).expect(200)).body as {
            status: string;
          };
          return ['completed', 'failed'].includes(j.status) || undefined;
        },
        { timeoutMs: 60_000, what: `job ${id} to end` },
      );
    await cp.as(cp.adminKey).get('/api/v1/jobs/00000000-0000-4000-8000-000000000000').expect(404);
    await cp.http().get('/api/v1/jobs').expect(401);
    await cp.http().get('/no/such/route').expect(404);
    // the consumer group persisted both ends
    await waitFor(
      async () => {
        const { samples } = await scrape(`${cp.url}/metrics`);
        return sum(samples, 'agentfleet_jobs_finished_total') >= 2 || undefined;
      },
      { timeoutMs: 30_000, what: 'both jobs counted as finished' },
    );
  });

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    await cp?.close();
  });

  it.each<Component>(['control-plane', 'worker'])(
    'the %s exports every metric of the catalog and the default process metrics',
    async (component) => {
      const { types } = await scrape(component === 'worker' ? workerMetricsUrl : `${cp.url}/metrics`);
      const names = exposed(types);
      const missing = exportedMetricNames(component).filter((n) => !names.has(n));
      expect(missing).toEqual([]);
      for (const n of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
      ])
        expect(names.has(n)).toBe(true);
    },
  );

  it('every metric name the dashboards and alert rules use is exported by a process', async () => {
    const [c, w] = await Promise.all([scrape(`${cp.url}/metrics`), scrape(workerMetricsUrl)]);
    const names = new Set([...exposed(c.types), ...exposed(w.types)]);
    const used = namesUsedByDeployArtifacts();
    expect(used.length).toBeGreaterThan(0);
    const unknown = used.flatMap(({ file, names: n }) =>
      n.filter((x) => !names.has(x)).map((x) => `${file}: ${x}`),
    );
    expect(unknown).toEqual([]);
  });

  it('the control plane counts submitted and finished jobs and API requests by route pattern', async () => {
    const { samples } = await scrape(`${cp.url}/metrics`);
    expect(sum(samples, 'agentfleet_jobs_submitted_total', { pool: 'default' })).toBe(2);
    expect(sum(samples, 'agentfleet_jobs_finished_total', { pool: 'default', status: 'completed' })).toBe(1);
    expect(sum(samples, 'agentfleet_jobs_finished_total', { pool: 'default', status: 'failed' })).toBe(1);
    const http = 'agentfleet_http_request_duration_seconds_count';
    expect(sum(samples, http, { method: 'POST', route: '/api/v1/jobs', status: '201' })).toBe(2);
    expect(sum(samples, http, { method: 'GET', route: '/api/v1/jobs/:id', status: '404' })).toBe(1);
    expect(sum(samples, http, { method: 'GET', route: '/api/v1/jobs', status: '401' })).toBe(1);
    expect(sum(samples, http, { route: 'unmatched', status: '404' })).toBe(1);
    expect(sum(samples, 'agentfleet_build_info', { component: 'control-plane' })).toBe(1);
    expect(sum(samples, 'agentfleet_job_events_persisted_total', { result: 'accepted' })).toBeGreaterThan(0);
  });

  it('the reaper leader reports the fleet, pools, queues, target slots and the event firehose', async () => {
    const { samples } = await scrape(`${cp.url}/metrics`);
    expect(sum(samples, 'agentfleet_leader')).toBe(1);
    expect(sum(samples, 'agentfleet_workers', { status: 'online', scheduling: 'active' })).toBe(1);
    expect(sum(samples, 'agentfleet_pool_workers_online', { pool: 'default' })).toBe(1);
    expect(sum(samples, 'agentfleet_pool_slots', { pool: 'default', state: 'free' })).toBe(2);
    expect(
      samples.some((s) => s.name === 'agentfleet_queue_jobs' && s.labels['queue'] === 'execution-default'),
    ).toBe(true);
    expect(sum(samples, 'agentfleet_queue_oldest_waiting_seconds', { pool: 'default' })).toBe(0);
    // the target's slots: its max_concurrent (the default 8), none held once its jobs have ended
    const slots = { pool: 'default', target: 'metrics-processes' };
    expect(sum(samples, 'agentfleet_target_slots', { ...slots, state: 'max' })).toBe(8);
    expect(sum(samples, 'agentfleet_target_slots', { ...slots, state: 'in_use' })).toBe(0);
    expect(samples.some((s) => s.name === 'agentfleet_stream_consumer_pending')).toBe(true);
    const lag = sum(samples, 'agentfleet_worker_heartbeat_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(3);
    expect(sum(samples, 'agentfleet_worker_heartbeat_interval_seconds')).toBe(0.5);
  });

  it('the worker reports its attempts, their timings, its slots, heartbeats and breaker per target name', async () => {
    const { samples } = await scrape(workerMetricsUrl);
    const t = { pool: 'default', target: 'metrics-processes' };
    expect(sum(samples, 'agentfleet_job_attempts_total', { ...t, status: 'completed' })).toBe(1);
    expect(sum(samples, 'agentfleet_job_attempts_total', { ...t, status: 'failed' })).toBe(1);
    expect(sum(samples, 'agentfleet_job_duration_seconds_count', t)).toBe(2);
    expect(sum(samples, 'agentfleet_job_enqueue_to_start_seconds_count', { pool: 'default' })).toBe(2);
    expect(
      sum(samples, 'agentfleet_container_start_duration_seconds_count', {
        runtime: 'process',
        target: 'metrics-processes',
      }),
    ).toBe(2);
    expect(sum(samples, 'agentfleet_worker_slots', { state: 'free' })).toBe(2);
    expect(sum(samples, 'agentfleet_worker_slots', { state: 'busy' })).toBe(0);
    expect(sum(samples, 'agentfleet_worker_heartbeats_total', { result: 'ok' })).toBeGreaterThan(0);
    expect(sum(samples, 'agentfleet_breaker_state', { target: 'metrics-processes', state: 'closed' })).toBe(
      1,
    );
    expect(sum(samples, 'agentfleet_breaker_state', { target: 'metrics-processes', state: 'open' })).toBe(0);
  });

  it('no series of either process carries an id (job, worker, organization) as a label value', async () => {
    const [c, w] = await Promise.all([scrape(`${cp.url}/metrics`), scrape(workerMetricsUrl)]);
    const withIds = [...c.samples, ...w.samples].filter((s) =>
      Object.values(s.labels).some((v) => UUID.test(v)),
    );
    expect(withIds).toEqual([]);
    // and every label name is one the catalog declares (plus histogram `le`)
    const declared = new Map(
      Object.values(METRICS as Record<string, MetricDefinition>).map((d) => [
        d.name,
        new Set([...d.labels, 'le']),
      ]),
    );
    for (const s of [...c.samples, ...w.samples]) {
      const base = s.name.replace(/_(bucket|sum|count)$/, '');
      const labels = declared.get(s.name) ?? declared.get(base);
      if (!labels) continue; // prom-client's default metrics
      for (const l of Object.keys(s.labels))
        expect(`${s.name}:${labels.has(l) ? 'declared' : l}`).toBe(`${s.name}:declared`);
    }
  });
});
