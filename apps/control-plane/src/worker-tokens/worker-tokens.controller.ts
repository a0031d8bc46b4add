import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createWorkerTokenSchema, updateWorkerTokenSchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { ManageWorkerTokensUseCase } from '@agentfleet/fleet';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class CreateWorkerTokenDto extends createZodDto(createWorkerTokenSchema) {}
class UpdateWorkerTokenDto extends createZodDto(updateWorkerTokenSchema) {}

@ApiTags('worker-tokens')
@ApiBearerAuth()
@Controller('api/v1/worker-tokens')
export class WorkerTokensController {
  constructor(private readonly tokens: ManageWorkerTokensUseCase) {}

  @Post()
  @RequireScopes('worker-tokens:write')
  @ApiOperation({ summary: 'Create a worker token; its plaintext `token` (awt_…) is returned once' })
  create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateWorkerTokenDto,
    @ClientIp() ip: string | null,
  ) {
    return this.tokens.create(p, body, ip);
  }

  @Get()
  @RequireScopes('worker-tokens:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.tokens.list(p, q);
  }

  @Get(':id')
  @RequireScopes('worker-tokens:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.tokens.get(p, id);
  }

  @Patch(':id')
  @RequireScopes('worker-tokens:write')
  @ApiOperation({
    summary: "Change a live token's name, labels, capabilities, max_concurrent_tasks or pools",
    description:
      "Only the fields given change (labels and lists are replaced whole). Workers read their token's " +
      'settings when they register, so running workers keep the pools, capabilities, concurrency and ' +
      'labels they registered with until they register again: restart them to apply the change. ' +
      'A revoked token, or one provisioned from configuration (the bootstrap worker token, changed in ' +
      'its configuration), is a 409. A call that changes nothing writes nothing; a change is audited as ' +
      'worker_token.updated.',
  })
  update(
    @CurrentPrincipal() p: Principal,
    @Param() { id }: UuidParamDto,
    @Body() body: UpdateWorkerTokenDto,
    @ClientIp() ip: string | null,
  ) {
    return this.tokens.update(p, id, body, ip);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireScopes('worker-tokens:write')
  @ApiOperation({ summary: 'Revoke a worker token; its workers stop at their next heartbeat (idempotent)' })
  revoke(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.tokens.revoke(p, id, ip);
  }
}
