import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  url: string;
  /** Shown in CLIENT LIST. */
  name: string;
  /** Called on connection state changes, for logs (never with credentials). */
  onEvent?: (event: 'connect' | 'ready' | 'reconnecting' | 'error' | 'end', detail?: string) => void;
  /** BullMQ blocking connections need `null`; request paths want a bound. */
  maxRetriesPerRequest?: number | null;
  /**
   * ioredis auto-pipelining: the commands issued in one event-loop turn go out in one write. For
   * connections that many concurrent jobs share (event appends); never for BullMQ's or pub/sub.
   */
  autoPipelining?: boolean;
}

/**
 * An ioredis client that reconnects forever with capped exponential backoff and jitter, and reports
 * what happens so operators see "Redis unreachable, retrying" instead of silence.
 */
export function createRedis(o: RedisConnectionOptions): Redis {
  const options: RedisOptions = {
    connectionName: o.name,
    maxRetriesPerRequest: o.maxRetriesPerRequest === undefined ? 3 : o.maxRetriesPerRequest,
    enableReadyCheck: true,
    retryStrategy: (times) =>
      Math.min(100 * 2 ** Math.min(times, 8), 5_000) + Math.floor(Math.random() * 250),
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    enableAutoPipelining: o.autoPipelining ?? false,
  };
  const redis = new Redis(o.url, options);
  if (o.onEvent) {
    const on = o.onEvent;
    redis.on('connect', () => on('connect'));
    redis.on('ready', () => on('ready'));
    redis.on('reconnecting', (ms: number) => on('reconnecting', `in ${ms} ms`));
    redis.on('error', (e: Error) => on('error', e.message));
    redis.on('end', () => on('end'));
  } else {
    redis.on('error', () => undefined); // errors surface on the commands; avoid unhandled 'error' events
  }
  return redis;
}

/** Redacts the password of a redis:// URL for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://<unparseable url>';
  }
}
