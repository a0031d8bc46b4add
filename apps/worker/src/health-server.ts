import type { Metrics } from '@agentfleet/infra-observability';
import { type Server, createServer } from 'node:http';

/**
 * The worker's only HTTP surface: /healthz (process up), /readyz (registered and heartbeating) and
 * /metrics (Prometheus text format). Bind it to a pod-internal address; it has no authentication.
 */
export function startHealthServer(
  port: number,
  host: string,
  ready: () => boolean,
  metrics: Metrics,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
    if (path === '/healthz')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === '/readyz') {
      const ok = ready();
      return void res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ok' : 'not ready' }));
    }
    if (path === '/metrics') {
      metrics.expose().then(
        (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
        (e: unknown) => res.writeHead(500).end(e instanceof Error ? e.message : String(e)),
      );
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
