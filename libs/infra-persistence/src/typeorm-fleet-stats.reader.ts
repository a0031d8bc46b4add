import type { FleetStats, FleetStatsReader } from '@agentfleet/fleet';
import type { DataSource } from 'typeorm';

/**
 * Three aggregate queries per scrape of the leader (grouped counts and the online workers only, so
 * the cost follows the live fleet, not the history of offline workers).
 */
export class TypeormFleetStatsReader implements FleetStatsReader {
  constructor(private readonly ds: DataSource) {}

  async read(): Promise<FleetStats> {
    const [workers, pools, online, targets] = await Promise.all([
      this.ds.query<{ status: string; scheduling: string; count: string }[]>(
        `SELECT status, scheduling, count(*)::text AS count FROM workers GROUP BY status, scheduling`,
      ),
      this.ds.query<{ pool: string }[]>(
        `SELECT worker_pool AS pool FROM execution_targets WHERE is_active
          UNION SELECT unnest(pools) FROM worker_tokens
                 WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
          UNION SELECT unnest(pools) FROM workers WHERE status = 'online'
          ORDER BY 1`,
      ),
      this.ds.query<{ id: string; pools: string[]; concurrency: number; scheduling: string }[]>(
        `SELECT id, pools, concurrency, scheduling FROM workers WHERE status = 'online'`,
      ),
      this.ds.query<{ id: string; name: string; pool: string; max_concurrent: number }[]>(
        `SELECT id, name, worker_pool AS pool, (capacity->>'max_concurrent')::int AS max_concurrent
           FROM execution_targets WHERE is_active ORDER BY worker_pool, name`,
      ),
    ]);
    return {
      workers: workers.map((w) => ({ status: w.status, scheduling: w.scheduling, count: Number(w.count) })),
      pools: pools.map((p) => p.pool),
      online,
      targets: targets.map((t) => ({
        id: t.id,
        name: t.name,
        pool: t.pool,
        maxConcurrent: t.max_concurrent,
      })),
    };
  }
}
