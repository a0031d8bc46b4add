import { randomUUID } from 'node:crypto';
import type { RunIO, RunSpec } from '@agentfleet/execution';

/**
 * A run for the fake kubelet (which runs a pod's command as a local process): `script` under this
 * Node binary, with the defaults of a small job; `overrides` change any field.
 */
export function kubeletRunSpec(script: string, overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    jobId: randomUUID(),
    attempt: 1,
    organizationId: randomUUID(),
    image: 'agentfleet/agent-runtime:test',
    command: [process.execPath, '-e', script],
    env: {},
    secretEnv: {},
    memoryLimitMb: 256,
    cpu: 0.5,
    pidsLimit: 64,
    timeoutMs: 60_000,
    network: false,
    ...overrides,
  };
}

/** RunIO that records what a run printed (stderr lines prefixed `stderr:`) and its start, with its abort. */
export function recordingRunIO() {
  const abort = new AbortController();
  const lines: string[] = [];
  const started: string[] = [];
  const io: RunIO = {
    onStdout: (l) => lines.push(l),
    onStderr: (l) => lines.push(`stderr:${l}`),
    signal: abort.signal,
    onStarted: (id) => started.push(id),
  };
  return { io, lines, started, abort };
}
