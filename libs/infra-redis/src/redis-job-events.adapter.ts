import { type JobEvent, jobEventSchema } from '@agentfleet/contracts';
import type { AttemptEvidence, JobEventSink, JobSignals, StreamEntry } from '@agentfleet/execution';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys';

/**
 * Appends a batch of one job's events: each goes to the job's own stream (its id is the event's id
 * everywhere: SSE, persistence, resume) and to the firehose with that id, atomically, in order.
 */
const APPEND = `
local out = {}
for i = 1, #ARGV - 2 do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[#ARGV - 1], '*', 'e', ARGV[i])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[#ARGV], '*', 'sid', id, 'e', ARGV[i])
  out[#out + 1] = id
end
redis.call('EXPIRE', KEYS[1], 86400)
return out`;

type AppendRedis = Redis & { afAppendJobEvents(...args: (string | number)[]): Promise<string[]> };

export interface JobStreamLimits {
  perJob: number;
  firehose: number;
}

/** Worker side: the event sink of one job. */
export class RedisJobEventSink implements JobEventSink {
  private readonly redis: AppendRedis;
  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    private readonly jobId: string,
    private readonly limits: JobStreamLimits = { perJob: 10_000, firehose: 1_000_000 },
  ) {
    if (!('afAppendJobEvents' in redis))
      redis.defineCommand('afAppendJobEvents', { numberOfKeys: 2, lua: APPEND });
    this.redis = redis as AppendRedis;
  }

  async append(events: readonly JobEvent[]): Promise<void> {
    if (!events.length) return;
    await this.redis.afAppendJobEvents(
      this.keys.jobEvents(this.jobId),
      this.keys.jobEventsFirehose(),
      ...events.map((e) => JSON.stringify(e)),
      this.limits.perJob,
      this.limits.firehose,
    );
  }
}

export interface FirehoseEntry extends StreamEntry {
  /** Id in the firehose (what is acknowledged); `streamId` is the event's id in its job stream. */
  firehoseId: string;
}

type XEntries = [id: string, fields: string[]][];

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * Control-plane side: reads the firehose with a consumer group, so each entry is persisted by one
 * replica; entries are acknowledged only after their transaction commits; entries a dead replica held
 * are claimed after `minIdleMs`. Malformed entries are returned separately to be acknowledged and logged.
 */
export class RedisJobEventConsumer {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly group: string,
    readonly consumer: string,
  ) {}

  async ensureGroup(): Promise<void> {
    try {
      // from the beginning: events written before the first control plane started are not lost
      await this.redis.xgroup('CREATE', this.keys.jobEventsFirehose(), this.group, '0', 'MKSTREAM');
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes('BUSYGROUP')) throw e;
    }
  }

  async read(count: number, blockMs: number): Promise<{ entries: FirehoseEntry[]; malformed: string[] }> {
    const res = (await this.redis.xreadgroup(
      'GROUP',
      this.group,
      this.consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.keys.jobEventsFirehose(),
      '>',
    )) as [string, XEntries][] | null;
    return this.parse(res?.[0]?.[1] ?? []);
  }

  /** Takes over entries another consumer read but never acknowledged (it died). */
  async claimStale(
    minIdleMs: number,
    count: number,
  ): Promise<{ entries: FirehoseEntry[]; malformed: string[] }> {
    const res = (await this.redis.xautoclaim(
      this.keys.jobEventsFirehose(),
      this.group,
      this.consumer,
      minIdleMs,
      '0',
      'COUNT',
      count,
    )) as [string, XEntries, ...unknown[]];
    return this.parse((res[1] ?? []).filter((e) => Array.isArray(e) && e[1]));
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.redis.xack(this.keys.jobEventsFirehose(), this.group, ...ids);
  }

  /** Entries delivered but not acknowledged, and the age of the oldest: the consumer lag. */
  async pending(): Promise<{ count: number }> {
    const res = (await this.redis.xpending(this.keys.jobEventsFirehose(), this.group)) as [
      number,
      ...unknown[],
    ];
    return { count: Number(res[0] ?? 0) };
  }

  /**
   * The group's backlog: `lag` = entries not yet delivered to any consumer (null when Redis cannot tell,
   * e.g. after entries were trimmed), `pending` = delivered, not yet acknowledged. Undefined when the
   * group does not exist (yet).
   */
  async groupInfo(): Promise<{ lag: number | null; pending: number } | undefined> {
    let groups: unknown[][];
    try {
      groups = (await this.redis.xinfo('GROUPS', this.keys.jobEventsFirehose())) as unknown[][];
    } catch (e) {
      if (e instanceof Error && /no such key/i.test(e.message)) return undefined;
      throw e;
    }
    for (const g of groups) {
      const f = new Map<string, unknown>();
      for (let i = 0; i + 1 < g.length; i += 2) f.set(String(g[i]), g[i + 1]);
      if (f.get('name') !== this.group) continue;
      const lag = f.get('lag');
      return {
        lag: lag === null || lag === undefined ? null : Number(lag),
        pending: Number(f.get('pending') ?? 0),
      };
    }
    return undefined;
  }

  /** Entries in the firehose (capped by MAXLEN ~), 0 when it does not exist. */
  async streamLength(): Promise<number> {
    return this.redis.xlen(this.keys.jobEventsFirehose());
  }

  /**
   * The group's consumers (one per control-plane process that ever read): entries each holds
   * unacknowledged, ms since its last read attempt, and (Redis 7.2+) ms since its last successful read.
   */
  async consumers(): Promise<{ name: string; pending: number; idleMs: number; inactiveMs: number | null }[]> {
    let rows: unknown[][];
    try {
      rows = (await this.redis.xinfo('CONSUMERS', this.keys.jobEventsFirehose(), this.group)) as unknown[][];
    } catch (e) {
      if (e instanceof Error && /no such key|NOGROUP/i.test(e.message)) return [];
      throw e;
    }
    return rows.map((r) => {
      const f = new Map<string, unknown>();
      for (let i = 0; i + 1 < r.length; i += 2) f.set(String(r[i]), r[i + 1]);
      const inactive = f.get('inactive');
      return {
        name: String(f.get('name')),
        pending: Number(f.get('pending') ?? 0),
        idleMs: Number(f.get('idle') ?? 0),
        inactiveMs: inactive === undefined || inactive === null ? null : Number(inactive),
      };
    });
  }

  /**
   * The oldest entry delivered and not acknowledged: who holds it, how many times it was delivered,
   * ms since its last delivery (`idleMs`) and since it was written (`ageMs`, from its id, on Redis' clock).
   */
  async oldestPending(): Promise<{
    id: string;
    consumer: string;
    idleMs: number;
    deliveries: number;
    ageMs: number;
  } | null> {
    let rows: [string, string, number, number][];
    try {
      rows = (await this.redis.xpending(this.keys.jobEventsFirehose(), this.group, '-', '+', 1)) as [
        string,
        string,
        number,
        number,
      ][];
    } catch (e) {
      if (e instanceof Error && /no such key|NOGROUP/i.test(e.message)) return null;
      throw e;
    }
    const first = rows[0];
    if (!first) return null;
    const [seconds, micros] = await this.redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const written = Number(first[0].split('-')[0]);
    return {
      id: first[0],
      consumer: first[1],
      idleMs: Number(first[2]),
      deliveries: Number(first[3]),
      ageMs: Math.max(0, now - written),
    };
  }

  private parse(raw: XEntries): { entries: FirehoseEntry[]; malformed: string[] } {
    const entries: FirehoseEntry[] = [];
    const malformed: string[] = [];
    for (const [id, fields] of raw) {
      const sid = field(fields, 'sid');
      const e = field(fields, 'e');
      try {
        const parsed = jobEventSchema.safeParse(JSON.parse(e ?? ''));
        if (sid && parsed.success) entries.push({ firehoseId: id, streamId: sid, event: parsed.data });
        else malformed.push(id);
      } catch {
        malformed.push(id);
      }
    }
    return { entries, malformed };
  }
}

/** Reads one job's stream after an id (SSE live tail). */
export async function readJobStream(
  redis: Redis,
  keys: RedisKeys,
  jobId: string,
  afterId: string,
  blockMs: number,
): Promise<{ id: string; event: JobEvent }[]> {
  const res = await redis.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', keys.jobEvents(jobId), afterId);
  const out: { id: string; event: JobEvent }[] = [];
  for (const [id, fields] of res?.[0]?.[1] ?? []) {
    try {
      const parsed = jobEventSchema.safeParse(JSON.parse(field(fields, 'e') ?? ''));
      if (parsed.success) out.push({ id, event: parsed.data });
    } catch {
      // skipped: the consumer reports malformed entries
    }
  }
  return out;
}

/**
 * Whether an attempt wrote events to its job's stream: the dispatcher sweep's proof that it ran (or
 * runs) somewhere. Newest entries first — the current attempt's are the last written — up to `scan`.
 */
export class RedisAttemptEvidence implements AttemptEvidence {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly scan = 1000,
  ) {}

  async ran(jobId: string, attempt: number): Promise<boolean> {
    const entries = await this.redis.xrevrange(this.keys.jobEvents(jobId), '+', '-', 'COUNT', this.scan);
    return entries.some(([, fields]) => {
      try {
        const a = (JSON.parse(field(fields, 'e') ?? '') as { attempt?: unknown }).attempt;
        // a later attempt's events would mean this one is long over: not to be run either
        return typeof a === 'number' && a >= attempt;
      } catch {
        return false;
      }
    });
  }
}

/** Cancellation: a flag (for a worker that has not subscribed yet) and a broadcast (for the one running it). */
export class RedisJobSignals implements JobSignals {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}
  async cancel(jobId: string): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.jobCancelFlag(jobId), '1', 'EX', 86_400)
      .publish(this.keys.cancelChannel(), jobId)
      .exec();
  }
}
