import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Logger,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  JOB_BATCH_MAX,
  createJobBatchSchema,
  createJobSchema,
  listJobsQuerySchema,
} from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { ManageJobsUseCase, type Submitted, SubmitJobUseCase } from '@agentfleet/execution';
import type { Request, Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { UuidParamDto } from '../common/common.dto';
import type { Metrics } from '@agentfleet/infra-observability';
import { METRICS_REGISTRY } from '../tokens';
import { JobEventStreamService } from './job-event-stream.service';

class CreateJobDto extends createZodDto(createJobSchema) {}
class CreateJobBatchDto extends createZodDto(createJobBatchSchema) {}
class ListJobsQueryDto extends createZodDto(listJobsQuerySchema) {}
const streamIdSchema = z.string().regex(/^\d{1,20}-\d{1,20}$/, 'a stream id such as 1700000000000-0');
class LogsQueryDto extends createZodDto(
  z.strictObject({
    after: streamIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(5000).default(1000),
  }),
) {}
class EventsQueryDto extends createZodDto(z.strictObject({ after: streamIdSchema.optional() })) {}

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/v1/jobs')
export class JobsController {
  private readonly logger = new Logger('jobs');

  constructor(
    private readonly submit: SubmitJobUseCase,
    private readonly jobs: ManageJobsUseCase,
    private readonly events: JobEventStreamService,
    @Inject(METRICS_REGISTRY) private readonly metrics: Metrics,
  ) {}

  @Post()
  @RequireScopes('jobs:write')
  @ApiOperation({
    summary:
      'Submit an execution job (201 created; 200 with the existing job for a repeated idempotency_key)',
  })
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateJobDto,
    @ClientIp() ip: string | null,
    @Res({ passthrough: true }) res: Response,
  ) {
    const r = await this.submit.execute(p, body, ip);
    this.accepted(p, r);
    res.status(r.created ? 201 : 200);
    return r.job;
  }

  @Post('batch')
  @RequireScopes('jobs:write')
  @ApiOperation({
    summary: `Submit up to ${JOB_BATCH_MAX} execution jobs at once, all or none`,
    description:
      'The jobs are validated and stored in one transaction: if one is refused the request fails naming `jobs.N.field` and nothing is stored or enqueued. An idempotency key may appear once per batch; a key already used returns its existing job with `created: false`. 201 when at least one job was created, else 200; `items` are in the order of `jobs`.',
  })
  async createBatch(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateJobBatchDto,
    @ClientIp() ip: string | null,
    @Res({ passthrough: true }) res: Response,
  ) {
    const all = await this.submit.executeMany(p, body.jobs, ip);
    for (const r of all) this.accepted(p, r);
    res.status(all.some((r) => r.created) ? 201 : 200);
    return { items: all.map((r) => ({ created: r.created, job: r.job })) };
  }

  /** What follows an accepted submission: the counter, and a warning when it waits for the sweep. */
  private accepted(p: Principal, r: Submitted): void {
    if (r.enqueueError) {
      this.logger.warn({
        job_id: r.job.id,
        organization_id: p.organizationId,
        msg: `job accepted but not enqueued (${r.enqueueError}); the dispatcher sweep will enqueue it`,
      });
    }
    if (r.created) this.metrics.counter('jobsSubmitted').inc({ pool: r.job.pool });
  }

  @Get()
  @RequireScopes('jobs:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: ListJobsQueryDto) {
    return this.jobs.list(p, q);
  }

  @Get(':id')
  @RequireScopes('jobs:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.jobs.get(p, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('jobs:write')
  @ApiOperation({
    summary: 'Cancel: a queued job leaves its queue; a running container is stopped within seconds',
  })
  cancel(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.jobs.cancel(p, id, ip);
  }

  @Get(':id/logs')
  @RequireScopes('jobs:read')
  logs(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @Query() q: LogsQueryDto) {
    return this.jobs.logs(p, id, q.after ?? null, q.limit);
  }

  @Get(':id/events')
  @RequireScopes('jobs:read')
  @ApiOperation({
    summary: 'Server-sent events of the job; resumes after the Last-Event-ID header (or ?after=)',
  })
  async stream(
    @CurrentPrincipal() p: Principal,
    @Param() { id }: UuidParamDto,
    @Query() q: EventsQueryDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    await this.jobs.get(p, id); // 404 before any byte of the stream
    const header = req.headers['last-event-id'];
    const lastEventId =
      typeof header === 'string' && streamIdSchema.safeParse(header).success ? header : (q.after ?? null);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let closed = false;
    req.on('close', () => (closed = true));
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    try {
      for await (const { id: eventId, event } of this.events.stream(
        p.organizationId,
        id,
        lastEventId,
        () => closed,
      )) {
        if (closed) break;
        res.write(`id: ${eventId}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }
      if (!closed) res.write('event: end\ndata: {}\n\n');
    } finally {
      clearInterval(keepAlive);
      res.end();
    }
  }
}
