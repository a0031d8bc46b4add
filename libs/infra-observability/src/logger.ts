import pino, { type Logger, type LoggerOptions } from 'pino';

export interface LoggerSettings {
  level: string;
  format: 'json' | 'pretty';
  /** Process name on every line: control-plane, worker, ... */
  service: string;
  /** Fields known only later (the worker's id once registered), added to every line from then on. */
  fields?: () => Record<string, unknown>;
}

/** Paths never written to logs: credentials in headers and bodies. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.key',
  '*.password',
  '*.secret',
  '*.adminKey',
  '*.admin_key',
];

export function loggerOptions(s: LoggerSettings): LoggerOptions {
  return {
    level: s.level,
    base: { service: s.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    ...(s.fields ? { mixin: s.fields } : {}),
    ...(s.format === 'pretty'
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l' },
          },
        }
      : {}),
  };
}

export function createLogger(s: LoggerSettings): Logger {
  return pino(loggerOptions(s));
}
export type { Logger };
