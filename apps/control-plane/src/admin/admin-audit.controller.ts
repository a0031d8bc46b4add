import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ReadAuditLogUseCase } from '@agentfleet/access';
import { auditQuerySchema } from '@agentfleet/contracts';
import type { Principal } from '@agentfleet/domain';
import { createZodDto } from 'nestjs-zod';
import { CurrentPrincipal, RequireScopes } from '../common/auth.decorators';

class AuditQueryDto extends createZodDto(auditQuerySchema) {}

@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/audit-log')
export class AdminAuditController {
  constructor(private readonly audit: ReadAuditLogUseCase) {}

  @Get()
  @RequireScopes('audit:read')
  list(@CurrentPrincipal() p: Principal, @Query() q: AuditQueryDto) {
    return this.audit.execute(p, q);
  }
}
