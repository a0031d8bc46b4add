import { METRICS, exportedMetricNames } from './metric-catalog';
import { Metrics, replaceGaugeSeries } from './metrics';

describe('Metrics (one prom-client registry per process, built from the catalog)', () => {
  it('exports build info, the default process metrics and every catalog metric of its component', async () => {
    const m = new Metrics('worker', '1.2.3').registerAll();
    const text = await m.expose();
    expect(text).toContain('agentfleet_build_info{component="worker",version="1.2.3"} 1');
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    for (const name of exportedMetricNames('worker').filter((n) => !/_(bucket|sum|count)$/.test(n)))
      expect(text).toContain(`# TYPE ${name} `);
    expect(text).not.toContain(METRICS.queueJobs.name);
  });

  it('refuses a metric of the other process (the catalog says who exports what)', () => {
    const m = new Metrics('worker', '0');
    expect(() => m.gauge('queueJobs')).toThrow(/belongs to the control-plane/);
  });

  it('uses the catalog buckets for histograms', async () => {
    const m = new Metrics('control-plane', '0');
    m.histogram('httpRequestDuration').observe({ method: 'GET', route: '/x', status: '200' }, 0.003);
    const text = await m.expose();
    for (const le of METRICS.httpRequestDuration.buckets)
      expect(text).toContain(
        `agentfleet_http_request_duration_seconds_bucket{le="${le}",method="GET",route="/x",status="200"}`,
      );
  });

  it('a failing or hanging collector is reported and the scrape still answers', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const errors: unknown[] = [];
      const m = new Metrics('control-plane', '0', (e) => errors.push(e));
      m.addCollector(() => Promise.reject(new Error('PostgreSQL away')));
      m.addCollector(() => new Promise(() => undefined));
      m.addCollector(() => m.gauge('leader').set(1));
      const scrape = m.expose();
      await jest.advanceTimersByTimeAsync(5_000);
      const text = await scrape;
      expect(text).toContain('agentfleet_leader 1');
      expect(errors.map((e) => (e as Error).message).sort()).toEqual([
        'PostgreSQL away',
        'metrics collector timed out',
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('replacing a gauge series set drops the series that vanished (a deleted pool)', async () => {
    const m = new Metrics('control-plane', '0');
    const g = m.gauge('poolWorkersOnline');
    replaceGaugeSeries(g, [
      [{ pool: 'a' }, 1],
      [{ pool: 'b' }, 2],
    ]);
    replaceGaugeSeries(g, [[{ pool: 'b' }, 3]]);
    const text = await m.expose();
    expect(text).toContain('agentfleet_pool_workers_online{pool="b"} 3');
    expect(text).not.toContain('pool="a"');
  });
});
