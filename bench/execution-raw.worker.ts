/**
 * The raw baseline's consumer in the execution benchmark: a plain BullMQ Worker with an empty processor,
 * in a process of its own (as our worker is), on the same Redis. Forked by bench/execution.bench.ts with
 * an IPC channel; configured by RawWorkerInit in AF_BENCH_RAW (JSON).
 *
 * It records when the processor started each job (Date.now(), the clock our worker stamps `started_at`
 * with) and hands those back on request, for the enqueue→start latency.
 */
import { Worker } from 'bullmq';
import { bullConnection } from '@agentfleet/infra-queue';

export interface RawWorkerInit {
  redisUrl: string;
  prefix: string;
  queue: string;
  concurrency: number;
}

export type RawWorkerRequest = { cmd: 'starts' } | { cmd: 'close' };
export type RawWorkerMessage =
  { kind: 'ready' } | { kind: 'starts'; starts: [id: string, ms: number][] } | { kind: 'closed' };

function send(m: RawWorkerMessage) {
  process.send?.(m);
}

const init = JSON.parse(process.env['AF_BENCH_RAW'] ?? '{}') as RawWorkerInit;
const starts = new Map<string, number>();

const worker = new Worker(
  init.queue,
  (job) => {
    if ((job.data as { timed?: boolean }).timed) starts.set(job.id ?? '', Date.now());
    return Promise.resolve();
  },
  {
    connection: bullConnection(init.redisUrl),
    prefix: init.prefix,
    concurrency: init.concurrency,
    autorun: false,
  },
);
worker.on('error', () => undefined);

process.on('message', (m: RawWorkerRequest) => {
  switch (m.cmd) {
    case 'starts':
      send({ kind: 'starts', starts: [...starts] });
      starts.clear();
      return;
    case 'close':
      void worker.close().finally(() => {
        send({ kind: 'closed' });
        process.disconnect();
      });
      return;
  }
});

void worker.waitUntilReady().then(() => {
  void worker.run();
  send({ kind: 'ready' });
});
