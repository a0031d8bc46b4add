import { Inject, Injectable } from '@nestjs/common';
import type { JobEvent } from '@agentfleet/contracts';
import { isTerminal } from '@agentfleet/domain';
import type { ExecutionRepositories } from '@agentfleet/execution';
import type { UnitOfWork } from '@agentfleet/domain';
import { type RedisKeys, readJobStream } from '@agentfleet/infra-redis';
import type { Redis } from 'ioredis';
import { EXECUTION_UOW, REDIS, REDIS_KEYS } from '../tokens';

export interface StreamedEvent {
  id: string;
  event: JobEvent;
}

/** Compares Redis stream ids (`<ms>-<seq>`). */
function after(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am > bm || (am === bm && as > bs);
}

/**
 * The events of one job for an SSE client: first what PostgreSQL has after `lastEventId` (history the
 * capped stream may have trimmed), then the live tail of `events:job:{id}` in Redis. Each replica serves
 * its own clients. Ends once the job is terminal and everything up to its end was sent.
 */
@Injectable()
export class JobEventStreamService {
  constructor(
    @Inject(EXECUTION_UOW) private readonly uow: UnitOfWork<ExecutionRepositories>,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
  ) {}

  async *stream(
    organizationId: string,
    jobId: string,
    lastEventId: string | null,
    closed: () => boolean,
  ): AsyncGenerator<StreamedEvent> {
    let last = lastEventId;
    for (;;) {
      const page = await this.uow.run((repos) => repos.events.list(organizationId, jobId, last, 500));
      for (const e of page) {
        last = e.streamId;
        yield { id: e.streamId, event: e.data };
      }
      if (page.length < 500) break;
    }
    // a blocking read needs a connection of its own
    const tail = this.redis.duplicate();
    try {
      let cursor = last ?? '0';
      let job = await this.uow.run((repos) => repos.jobs.findById(organizationId, jobId));
      while (!closed() && job) {
        const entries = await readJobStream(tail, this.keys, jobId, cursor, 2000);
        for (const { id, event } of entries) {
          cursor = id;
          if (last && !after(id, last)) continue;
          // an older attempt's late events were dropped by the control plane: hide them here too
          if (event.attempt < job.attempt) continue;
          last = id;
          yield { id, event };
        }
        job = await this.uow.run((repos) => repos.jobs.findById(organizationId, jobId));
        if (job && isTerminal(job.status) && entries.length === 0) return;
      }
    } finally {
      tail.disconnect();
    }
  }
}
