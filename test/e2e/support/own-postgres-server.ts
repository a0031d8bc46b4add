import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';
/** initdb and the postmaster refuse to run as root: they run as this OS user then. */
const OS_USER = 'postgres';

/**
 * A test-owned PostgreSQL 15 cluster in a temp dir on its own port, so a test may stop and restart it
 * (the shared server on 5432 must stay up for every other test). Trust auth, fsync off: throwaway data.
 */
export class OwnPostgresServer {
  private dir: string | undefined;
  constructor(readonly port: number) {}

  /** Server-level URL of `database` (default: the `postgres` maintenance database). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private get dataDir(): string {
    if (!this.dir) throw new Error('OwnPostgresServer: init() first');
    return join(this.dir, 'data');
  }

  /** Creates the cluster (once) and starts it. */
  async init(): Promise<void> {
    this.dir = await mkdtemp('/tmp/af-own-pg-');
    if (userInfo().uid === 0) {
      const { stdout } = await run('id', ['-u', OS_USER]);
      const { stdout: gid } = await run('id', ['-g', OS_USER]);
      await chown(this.dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await this.pg('initdb', ['-D', this.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await this.start();
  }

  /** Starts the cluster (again) on the same port and data dir; resolves once it accepts connections. */
  async start(): Promise<void> {
    const opts = [
      `-p ${this.port}`,
      `-k ${this.dir!}`, // its Unix socket stays in the temp dir, not in /var/run/postgresql
      '-c listen_addresses=127.0.0.1',
      // fsync off only skips flushes to disk: a stopped (even killed) server keeps every commit, the
      // OS still has it. synchronous_commit stays on: off, an immediate stop loses commits that
      // clients were already told about — a test of "nothing acknowledged is lost" must not do that.
      '-c fsync=off',
    ].join(' ');
    await this.pg('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', '-o', opts, 'start']);
  }

  /** `immediate`: the postmaster and its backends go at once, as in a crash; clients see their sockets close. */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async isRunning(): Promise<boolean> {
    if (!this.dir) return false;
    try {
      await this.pg('pg_ctl', ['-D', this.dataDir, 'status']);
      return true;
    } catch {
      return false;
    }
  }

  async createDatabase(name: string): Promise<string> {
    const c = new Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name}"`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /** The server's own log (for a failing test's message). */
  async log(): Promise<string> {
    return this.dir ? readFile(this.logFile, 'utf8').catch(() => '') : '';
  }

  /** Stops the server if it runs and removes its temp dir. Safe to call more than once, and after a failed init. */
  async destroy(): Promise<void> {
    if (!this.dir) return;
    if (await this.isRunning()) await this.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private get logFile(): string {
    return join(this.dir!, 'server.log');
  }

  private async pg(tool: string, args: string[]): Promise<void> {
    const bin = join(BIN, tool);
    if (userInfo().uid === 0) await run('runuser', ['-u', OS_USER, '--', bin, ...args]);
    else await run(bin, args);
  }
}
