import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ManageOrganizationsUseCase } from '@agentfleet/access';
import { createOrganizationSchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentPrincipal, RequireScopes } from '../common/auth.decorators';
import { PaginationQueryDto } from '../common/common.dto';

class CreateOrganizationDto extends createZodDto(createOrganizationSchema) {}

@ApiTags('organizations')
@ApiBearerAuth()
@Controller('api/v1/organizations')
export class OrganizationsController {
  constructor(private readonly orgs: ManageOrganizationsUseCase) {}

  @Get('current')
  @RequireScopes('organizations:read')
  @ApiOperation({ summary: "The calling key's organization" })
  current(@CurrentPrincipal() p: Principal) {
    return this.orgs.getOwn(p);
  }

  @Get()
  @RequireScopes('organizations:read')
  @ApiOperation({ summary: 'All organizations (instance-admin key only)' })
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.orgs.list(p, q);
  }

  @Post()
  @RequireScopes('organizations:write')
  @ApiOperation({ summary: 'Create an organization and its first admin key (instance-admin key only)' })
  create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateOrganizationDto,
    @ClientIp() ip: string | null,
  ) {
    return this.orgs.create(p, body, ip);
  }
}
