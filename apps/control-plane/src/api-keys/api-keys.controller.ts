import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ManageApiKeysUseCase } from '@agentfleet/access';
import type { Principal } from '@agentfleet/domain';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';
import { CreateApiKeyDto } from './api-keys.dto';

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('api/v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ManageApiKeysUseCase) {}

  @Post()
  @RequireScopes('api-keys:write')
  @ApiOperation({ summary: 'Create an API key; its plaintext `key` is returned once' })
  create(@CurrentPrincipal() p: Principal, @Body() body: CreateApiKeyDto, @ClientIp() ip: string | null) {
    return this.keys.create(p, body, ip);
  }

  @Get()
  @RequireScopes('api-keys:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.keys.list(p, q);
  }

  @Get(':id')
  @RequireScopes('api-keys:read')
  get(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto) {
    return this.keys.get(p, id);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequireScopes('api-keys:write')
  @ApiOperation({ summary: 'Revoke an API key (idempotent)' })
  revoke(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.keys.revoke(p, id, ip, new Date());
  }
}
