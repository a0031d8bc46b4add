import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubernetesClient } from './kubernetes-client.loader';
import { LineSplitter } from './line-splitter';

export interface LogFollowerOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  pod: string;
  container: string;
  /** Each line once, in order, without its newline. */
  onLine(line: string): void;
  /** True once the container's terminated state is known: a stream that ends then is the real end. */
  isTerminated(): boolean;
}

/** The log response as lines (the same splitting as the Docker runtime's); ends with the response. */
class LineWriter extends Writable {
  private readonly splitter: LineSplitter;

  constructor(onLine: (line: string) => void) {
    super();
    this.splitter = new LineSplitter(onLine);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.splitter.push(chunk);
    done();
  }

  override _final(done: (e?: Error | null) => void): void {
    this.splitter.end();
    done();
  }
}

/** RFC3339(Nano) → nanoseconds since the epoch; Go trims trailing zeros, so strings do not sort. */
function toNanos(ts: string): bigint | undefined {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Follows one container's log through client-node's Log API (the API server proxies it from the kubelet).
 * Kubernetes merges the container's stdout and stderr into one log, so every line arrives here.
 * Follow streams can end before the container does (API server or kubelet restart, proxy timeouts), so
 * lines are requested with timestamps and a broken stream is resumed from the last timestamp seen,
 * skipping what was already delivered: each line arrives once and in order.
 */
export class KubernetesLogFollower {
  private lastNanos: bigint | undefined;
  private deliveredAtLast = 0;
  private skipAtLast = 0;
  private stopped = false;
  private current: AbortController | undefined;
  private wakeUp: (() => void) | undefined;
  /** Resolves when the log has been read to the container's end, or the follower was stopped. */
  readonly done: Promise<void>;
  /** Why the last stream attempt failed, for the run's evidence. */
  lastError: string | undefined;

  constructor(private readonly options: LogFollowerOptions) {
    this.done = this.follow();
  }

  stop(): void {
    this.stopped = true;
    this.current?.abort();
    this.wakeUp?.();
  }

  private onTimestampedLine(raw: string): void {
    const space = raw.indexOf(' ');
    const nanos = space > 0 ? toNanos(raw.slice(0, space)) : undefined;
    if (nanos === undefined) {
      this.options.onLine(raw);
      return;
    }
    const line = raw.slice(space + 1);
    if (this.lastNanos !== undefined && nanos < this.lastNanos) return;
    if (this.lastNanos !== undefined && nanos === this.lastNanos) {
      if (this.skipAtLast > 0) {
        this.skipAtLast--;
        return;
      }
      this.deliveredAtLast++;
    } else {
      this.lastNanos = nanos;
      this.deliveredAtLast = 1;
      this.skipAtLast = 0;
    }
    this.options.onLine(line);
  }

  private async follow(): Promise<void> {
    const { Log } = await loadKubernetesClient();
    const log = new Log(this.options.kubeConfig);
    while (!this.stopped) {
      // lines stamped with the last timestamp seen were already delivered up to this count
      this.skipAtLast = this.deliveredAtLast;
      const writer = new LineWriter((l) => this.onTimestampedLine(l));
      const ended = new Promise<void>((resolve) => {
        writer.on('finish', resolve);
        // client-node pipes the response into the writer without listening for its errors, so an
        // aborted or broken response would be an uncaught 'error' event; it is a stream end here
        writer.on('pipe', (source: NodeJS.ReadableStream) =>
          source.on('error', (e: Error) => {
            if (!this.stopped) this.lastError = e.message;
            resolve();
          }),
        );
        this.wakeUp = resolve;
      });
      try {
        this.current = await log.log(
          this.options.namespace,
          this.options.pod,
          this.options.container,
          writer,
          {
            follow: true,
            timestamps: true,
            // whole seconds only; the duplicates this brings back are skipped above
            ...(this.lastNanos !== undefined
              ? {
                  sinceTime: new Date(Number(this.lastNanos / 1_000_000_000n) * 1000)
                    .toISOString()
                    .replace(/\.\d+Z$/, 'Z'),
                }
              : {}),
          },
        );
        if (this.stopped) this.current.abort();
        // connected: an earlier failure was recovered from; a failure of this stream sets it again
        this.lastError = undefined;
        await ended;
      } catch (e) {
        // e.g. 400 "waiting to start" right after the status flipped, or the API server restarting
        this.lastError = e instanceof Error ? e.message : String(e);
        await Promise.race([delay(500), ended]);
        continue;
      }
      if (this.options.isTerminated()) return;
      // the stream ended while the container may still run: resume shortly (the status may just lag)
      await delay(250);
    }
  }
}
