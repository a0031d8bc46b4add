import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createWorkerTokenSchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { ManageWorkerTokensUseCase } from '@agentfleet/fleet';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class CreateWorkerTokenDto extends createZodDto(createWorkerTokenSchema) {}

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

  @Delete(':id')
  @HttpCode(200)
  @RequireScopes('worker-tokens:write')
  @ApiOperation({ summary: 'Revoke a worker token; its workers stop at their next heartbeat (idempotent)' })
  revoke(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.tokens.revoke(p, id, ip);
  }
}
