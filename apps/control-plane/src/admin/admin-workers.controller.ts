import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { listWorkersQuerySchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { ScheduleWorkerUseCase, ViewFleetUseCase } from '@agentfleet/fleet';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { UuidParamDto } from '../common/common.dto';

class ListWorkersQueryDto extends createZodDto(listWorkersQuerySchema) {}

/** Operator admin API: the fleet with live state, drain, cordon, uncordon. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/workers')
export class AdminWorkersController {
  constructor(
    private readonly fleet: ViewFleetUseCase,
    private readonly schedule: ScheduleWorkerUseCase,
  ) {}

  @Get()
  @RequireScopes('workers:read')
  @ApiOperation({
    summary: 'Workers with live state from their last heartbeat (status, last seen, running, free slots)',
  })
  list(@CurrentPrincipal() p: Principal, @Query() q: ListWorkersQueryDto) {
    return this.fleet.list(p, q);
  }

  @Get(':id')
  @RequireScopes('workers:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.fleet.get(p, id);
  }

  @Post(':id/drain')
  @HttpCode(200)
  @RequireScopes('workers:write')
  @ApiOperation({ summary: 'Finish running jobs, take no new ones' })
  drain(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.schedule.execute(p, id, 'drain', ip);
  }

  @Post(':id/cordon')
  @HttpCode(200)
  @RequireScopes('workers:write')
  @ApiOperation({ summary: 'Take no new jobs (running ones go on)' })
  cordon(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.schedule.execute(p, id, 'cordon', ip);
  }

  @Post(':id/uncordon')
  @HttpCode(200)
  @RequireScopes('workers:write')
  @ApiOperation({ summary: 'Take jobs again (ends cordon and drain)' })
  uncordon(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.schedule.execute(p, id, 'uncordon', ip);
  }
}
