import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { createTargetSchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { ManageTargetsUseCase } from '@agentfleet/execution';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class CreateTargetDto extends createZodDto(createTargetSchema) {}

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

  @Delete(':id')
  @HttpCode(200)
  @RequireScopes('targets:write')
  deactivate(@CurrentPrincipal() p: Principal, @Param() { id }: UuidParamDto, @ClientIp() ip: string | null) {
    return this.targets.deactivate(p, id, ip);
  }
}
