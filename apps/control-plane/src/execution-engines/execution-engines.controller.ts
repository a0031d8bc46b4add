import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createEngineSchema } from '@agentfleet/contracts';
import type { Principal, WorkerPrincipal } from '@agentfleet/domain';
import { ManageEnginesUseCase } from '@agentfleet/execution';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { ClientIp, CurrentPrincipal, CurrentWorker, RequireScopes, WorkerAuth } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class CreateEngineDto extends createZodDto(createEngineSchema) {}
class EngineForJobQueryDto extends createZodDto(z.strictObject({ job_id: z.uuid() })) {}

@ApiTags('execution-engines')
@ApiBearerAuth()
@Controller('api/v1/execution-engines')
export class ExecutionEnginesController {
  constructor(private readonly engines: ManageEnginesUseCase) {}

  @Post()
  @RequireScopes('targets:write')
  @ApiOperation({ summary: 'An LLM engine for engine jobs; its api_key is sealed with AES-256-GCM and never returned' })
  create(@CurrentPrincipal() p: Principal, @Body() body: CreateEngineDto, @ClientIp() ip: string | null) {
    return this.engines.create(p, body, ip);
  }

  @Get()
  @RequireScopes('targets:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.engines.list(p, q);
  }

  @Get(':id')
  @RequireScopes('targets:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.engines.get(p, id);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireScopes('targets:write')
  deactivate(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.engines.deactivate(p, id, ip);
  }
}

/** Worker protocol: the settings of an engine job's engine, fetched at start so keys never sit in Redis. */
@ApiTags('workers')
@ApiBearerAuth()
@WorkerAuth()
@Controller('api/v1/workers/engines')
export class WorkerEnginesController {
  constructor(private readonly engines: ManageEnginesUseCase) {}

  @Get(':id')
  forJob(@CurrentWorker() w: { principal: WorkerPrincipal }, @Param() { id }: UuidParamDto, @Query() q: EngineForJobQueryDto) {
    return this.engines.forWorker(w.principal, id, q.job_id);
  }
}
