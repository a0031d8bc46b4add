import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { PersistJobEventsUseCase, type PersistResult } from '@agentfleet/execution';
import { type FirehoseEntry, RedisJobEventConsumer, type RedisKeys } from '@agentfleet/infra-redis';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import type { Metrics } from '@agentfleet/infra-observability';
import { METRICS_REGISTRY, REDIS, REDIS_KEYS } from '../tokens';

const BATCH = 500;
const BLOCK_MS = 1000;
/** Entries a consumer held this long without acknowledging are taken over (it died). */
export const CLAIM_IDLE_MS = 30_000;
/** The consumer group every replica reads the firehose in. */
export const JOB_EVENTS_GROUP = 'control-plane';

/**
 * Every replica consumes the job-event firehose in one consumer group: a batch is persisted in one
 * transaction and acknowledged only after the commit. While PostgreSQL is away the batch is retried
 * (the entries wait in Redis); entries of a dead replica are claimed after 30 s.
 */
@Injectable()
export class JobEventConsumerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('job-events');
  private readonly consumer: RedisJobEventConsumer;
  private readonly conn: Redis;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly persist: PersistJobEventsUseCase,
    @Inject(REDIS) redis: Redis,
    @Inject(REDIS_KEYS) keys: RedisKeys,
    @Inject(METRICS_REGISTRY) private readonly metrics: Metrics,
  ) {
    // XREADGROUP BLOCK holds its connection: not the shared one
    this.conn = redis.duplicate({ maxRetriesPerRequest: null });
    this.conn.on('error', () => undefined);
    this.consumer = new RedisJobEventConsumer(
      this.conn,
      keys,
      JOB_EVENTS_GROUP,
      `${hostname()}:${process.pid}`,
    );
  }

  onApplicationBootstrap() {
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown() {
    this.running = false;
    await this.loop;
    this.conn.disconnect();
  }

  private async run(): Promise<void> {
    let lastClaim = 0;
    let failures = 0;
    let groupReady = false;
    while (this.running) {
      try {
        if (!groupReady) {
          await this.consumer.ensureGroup();
          groupReady = true;
        }
        let batch =
          Date.now() - lastClaim > CLAIM_IDLE_MS
            ? await this.consumer.claimStale(CLAIM_IDLE_MS, BATCH)
            : undefined;
        if (batch) lastClaim = Date.now();
        if (!batch || (!batch.entries.length && !batch.malformed.length))
          batch = await this.consumer.read(BATCH, BLOCK_MS);
        if (batch.malformed.length) {
          this.logger.warn(`dropping ${batch.malformed.length} malformed job-event entries`);
          await this.consumer.ack(batch.malformed);
        }
        if (batch.entries.length) await this.persistUntilDone(batch.entries);
        failures = 0;
      } catch (e) {
        failures++;
        if (e instanceof Error && e.message.includes('NOGROUP')) groupReady = false; // Redis lost the group
        const wait = Math.min(250 * 2 ** Math.min(failures, 5), 5000);
        this.logger.warn(
          `job-event consumer: ${e instanceof Error ? e.message : String(e)}; retrying in ${wait} ms`,
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Counted after the commit: each transition is committed once (conditional updates), so counted once. */
  private count(r: PersistResult): void {
    const m = this.metrics;
    m.counter('jobEventsPersisted').inc({ result: 'accepted' }, r.accepted);
    m.counter('jobEventsPersisted').inc({ result: 'dropped' }, r.dropped);
    for (const j of r.finished) m.counter('jobsFinished').inc({ pool: j.pool, status: j.status });
    for (const j of r.retried) m.counter('jobsRequeued').inc({ pool: j.pool, reason: 'retry' });
  }

  /** Keeps the batch until PostgreSQL took it: nothing is acknowledged before its commit. */
  private async persistUntilDone(entries: FirehoseEntry[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const started = performance.now();
        const r = await this.persist.execute(entries);
        this.metrics.histogram('jobEventsBatchDuration').observe((performance.now() - started) / 1000);
        await this.consumer.ack(entries.map((e) => e.firehoseId));
        this.count(r);
        if (attempt > 0)
          this.logger.log(`persisted ${entries.length} job events after ${attempt} failed attempts`);
        return;
      } catch (e) {
        if (!this.running) return; // left pending: another replica (or the next start) claims them
        const wait = Math.min(250 * 2 ** Math.min(attempt, 5), 5000);
        if (attempt % 5 === 0) {
          this.logger.warn(
            `persisting ${entries.length} job events failed (${e instanceof Error ? e.message : String(e)}); retrying in ${wait} ms`,
          );
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
