import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { waitFor } from '@agentfleet/testing';

export interface OwnRedisOptions {
  /**
   * Persist every write to an append-only file (fsync on each) in a temp dir of its own, so data
   * survives a restart — even a SIGKILL. Off by default: a restart then comes back empty.
   */
  appendOnly?: boolean;
}

/** A test-owned redis-server on its own port, so a test may stop and restart it. Keeps nothing on disk unless asked. */
export class OwnRedisServer {
  private proc: ChildProcess | undefined;
  private dir: string | undefined;
  constructor(
    readonly port: number,
    private readonly options: OwnRedisOptions = {},
  ) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server; a later start reuses the same port and, with `appendOnly`, the same data dir. */
  async start(): Promise<void> {
    const persistence = this.options.appendOnly
      ? [
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--dir',
          (this.dir ??= await mkdtemp('/tmp/af-own-redis-')),
        ]
      : ['--appendonly', 'no'];
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(
      async () => {
        const r = new Redis(this.url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        try {
          await r.connect();
          // with AOF, a restarted server answers LOADING until the file is replayed
          return (await r.ping()) === 'PONG';
        } finally {
          r.disconnect();
        }
      },
      { what: `redis-server on ${this.port}` },
    );
  }

  /** SIGKILL by default: a crash. With `appendOnly` nothing acknowledged is lost (fsync on every write). */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  /** Stops the server and removes its data dir (if any). */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
