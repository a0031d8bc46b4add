import type { NextFunction, Request, Response } from 'express';
import type { Metrics } from '@agentfleet/infra-observability';

/** Paths that are not the API's traffic: probes and the scrape itself. */
const UNMEASURED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Express middleware: one observation per request when its response ends, labelled with the route
 * pattern (`/api/v1/jobs/:id`, never the concrete path: bounded labels), the method and the status.
 * Requests no route matched are `unmatched`. Event streams are excluded from the latency histogram
 * (they last as long as the client stays) and counted as open streams instead.
 */
export function httpMetricsMiddleware(metrics: Metrics) {
  const duration = metrics.histogram('httpRequestDuration');
  const streams = metrics.gauge('httpStreamsOpen');
  return (req: Request, res: Response, next: NextFunction) => {
    if (UNMEASURED.has(req.path)) return next();
    const started = process.hrtime.bigint();
    let streaming = false;
    const onHeaders = () => {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
        streaming = true;
        streams.inc();
      }
    };
    // headers are written once; 'finish' (all sent) or 'close' (client went away) ends the request
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => Response;
    res.writeHead = ((...a: unknown[]) => {
      const r = writeHead(...a);
      onHeaders();
      return r;
    }) as typeof res.writeHead;
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      if (streaming) {
        streams.dec();
        return;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      duration.observe({ method: req.method, route: routeOf(req), status: String(res.statusCode) }, seconds);
    };
    res.once('finish', end);
    res.once('close', end);
    next();
  };
}

function routeOf(req: Request): string {
  const path: unknown = (req as { route?: { path?: unknown } }).route?.path;
  if (typeof path !== 'string') return 'unmatched';
  // Nest answers unknown paths with a catch-all route (`/{*path}`): that is no route of the API
  if (path.startsWith('/{*') || path === '*') return 'unmatched';
  return `${req.baseUrl}${path}`;
}
