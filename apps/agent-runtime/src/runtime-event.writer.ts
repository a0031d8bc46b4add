import { RUNTIME_EVENT_VERSION, type RuntimeEvent } from '@agentfleet/contracts';

export type EmitEvent = (event: RuntimeEvent) => void;

const REDACTED = '[redacted]';
/** The contract's limits (libs/contracts runtime-events): longer text is cut rather than the event lost. */
const MAX_LOG = 16_000;
const MAX_PROGRESS = 2_000;

/**
 * Writes each event as one JSON line. Every secret is replaced wherever it appears: a provider's error
 * message or a proxy's echo of the request must not carry the API key into logs and the job's events.
 */
export function createEventWriter(
  writeLine: (line: string) => void,
  secrets: readonly (string | undefined)[],
): EmitEvent {
  // JSON escaping can change how a secret looks inside the line, so both forms are searched
  const needles = secrets
    .filter((s): s is string => typeof s === 'string' && s.length >= 4)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  return (event) => {
    let line = JSON.stringify(fit(event));
    for (const n of needles) line = line.replaceAll(n, REDACTED);
    writeLine(line);
  };
}

function fit(event: RuntimeEvent): RuntimeEvent {
  if (event.v !== RUNTIME_EVENT_VERSION)
    throw new Error(`unsupported runtime event version ${String(event.v)}`);
  switch (event.type) {
    case 'log':
      return event.message.length > MAX_LOG ? { ...event, message: event.message.slice(0, MAX_LOG) } : event;
    case 'progress':
      return event.message !== undefined && event.message.length > MAX_PROGRESS
        ? { ...event, message: event.message.slice(0, MAX_PROGRESS) }
        : event;
    case 'result':
    case 'usage':
      return event;
  }
}
