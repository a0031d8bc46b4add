import { Body, Controller, Delete, Get, Header, HttpCode, Param, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { putSecretSchema, secretNameParamSchema } from '@agentfleet/contracts';
import type { Principal, WorkerPrincipal } from '@agentfleet/domain';
import type { WorkerTokenRecord } from '@agentfleet/fleet';
import { ManageSecretsUseCase } from '@agentfleet/execution';
import type { Response } from 'express';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import {
  ClientIp,
  CurrentPrincipal,
  CurrentWorker,
  RequireScopes,
  WorkerAuth,
} from '../common/auth.decorators';
import { PaginationQueryDto, UuidParamDto } from '../common/common.dto';

class PutSecretDto extends createZodDto(putSecretSchema) {}
class SecretNameParamDto extends createZodDto(secretNameParamSchema) {}
class SecretEnvQueryDto extends createZodDto(
  z.strictObject({ attempt: z.coerce.number().int().min(1).describe('The attempt the worker is starting') }),
) {}

@ApiTags('secrets')
@ApiBearerAuth()
@Controller('api/v1/secrets')
export class SecretsController {
  constructor(private readonly secrets: ManageSecretsUseCase) {}

  @Put(':name')
  @RequireScopes('secrets:write')
  @ApiOperation({
    summary: 'Create a secret (201) or replace its value (200)',
    description:
      'The value is sealed with AES-256-GCM and never returned; jobs use it through an env value `{"secret": "<name>"}`. Names are environment-variable names, unique per organization.',
  })
  async put(
    @CurrentPrincipal() p: Principal,
    @Param() { name }: SecretNameParamDto,
    @Body() body: PutSecretDto,
    @ClientIp() ip: string | null,
    @Res({ passthrough: true }) res: Response,
  ) {
    const r = await this.secrets.put(p, name, body, ip);
    res.status(r.created ? 201 : 200);
    return r.secret;
  }

  @Get()
  @RequireScopes('secrets:read')
  @ApiOperation({ summary: "The organization's secrets by name: metadata only, never values" })
  list(@CurrentPrincipal() p: Principal, @Query() q: PaginationQueryDto) {
    return this.secrets.list(p, q);
  }

  @Get(':name')
  @RequireScopes('secrets:read')
  @ApiOperation({ summary: 'Metadata of one secret (name, description, when and by whom); never the value' })
  get(@CurrentPrincipal() p: Principal, @Param() { name }: SecretNameParamDto) {
    return this.secrets.get(p, name);
  }

  @Delete(':name')
  @HttpCode(200)
  @RequireScopes('secrets:write')
  @ApiOperation({
    summary: 'Delete a secret for good; a queued job that references it fails at start, naming the variable',
  })
  delete(
    @CurrentPrincipal() p: Principal,
    @Param() { name }: SecretNameParamDto,
    @ClientIp() ip: string | null,
  ) {
    return this.secrets.delete(p, name, ip);
  }
}

/** Worker protocol: the opened secret values of a job the worker is starting, so values never sit in Redis. */
@ApiTags('workers')
@ApiBearerAuth()
@WorkerAuth()
@Controller('api/v1/workers/jobs')
export class WorkerJobSecretsController {
  constructor(private readonly secrets: ManageSecretsUseCase) {}

  @Get(':id/secret-env')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary:
      "Values of a starting job's secret references (worker token; the job's organization and pools only)",
  })
  secretEnv(
    @CurrentWorker() w: { principal: WorkerPrincipal; token: WorkerTokenRecord },
    @Param() { id }: UuidParamDto,
    @Query() q: SecretEnvQueryDto,
  ) {
    return this.secrets.forWorker(w.principal, w.token.pools, id, q.attempt);
  }
}
