import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createTargetSchema, updateTargetSchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { ManageTargetsUseCase } from '@agentfleet/execution';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class CreateTargetDto extends createZodDto(createTargetSchema) {}
class UpdateTargetDto extends createZodDto(updateTargetSchema) {}

@ApiTags('execution-targets')
@ApiBearerAuth()
@Controller('api/v1/execution-targets')
export class ExecutionTargetsController {
  constructor(private readonly targets: ManageTargetsUseCase) {}

  @Post()
  @RequireScopes('targets:write')
  create(@CurrentPrincipal() p: Principal, @Body() body: CreateTargetDto, @ClientIp() ip: string | null) {
    return this.targets.create(p, body, ip);
  }

  @Get()
  @RequireScopes('targets:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.targets.list(p, q);
  }

  @Get(':id')
  @RequireScopes('targets:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.targets.get(p, id);
  }

  @Patch(':id')
  @RequireScopes('targets:write')
  @ApiOperation({
    summary: 'Change capacity, allowed/default image, breaker options or is_active of a target',
    description:
      'Only the fields given change; capacity and breaker are merged field by field. Jobs are checked ' +
      'against capacity and allowed_images when they are submitted: jobs already queued or running keep ' +
      "what they were accepted with. A queue entry carries a copy of its pool's active targets taken when " +
      'it was enqueued, so a deactivated target may still run jobs queued before the change; a job queued ' +
      'again later (retry, hand-back) goes to the active targets only. Workers keep the breaker they built ' +
      'for a target until they restart. name, type, worker_pool and connection cannot change (409 naming ' +
      'the field unless the value given is the stored one): create another target and deactivate this one. ' +
      'A call that changes nothing writes nothing; a change is audited as execution_target.updated.',
  })
  update(
    @CurrentPrincipal() p: Principal,
    @Param() { id }: UuidParamDto,
    @Body() body: UpdateTargetDto,
    @ClientIp() ip: string | null,
  ) {
    return this.targets.update(p, id, body, ip);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireScopes('targets:write')
  deactivate(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.targets.deactivate(p, id, ip);
  }
}
