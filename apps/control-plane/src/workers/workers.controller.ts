import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { workerDeregisterRequestSchema, workerRegisterRequestSchema } from '@agentfleet/contracts';
import type { WorkerPrincipal } from '@agentfleet/domain';
import { DeregisterWorkerUseCase, RegisterWorkerUseCase, type WorkerTokenRecord } from '@agentfleet/fleet';
import { createZodDto } from 'nestjs-zod';
import { ClientIp, CurrentWorker, WorkerAuth } from '../common/auth.decorators';
import { UuidParamDto } from '../common/common.dto';

class RegisterWorkerDto extends createZodDto(workerRegisterRequestSchema) {}
class DeregisterWorkerDto extends createZodDto(workerDeregisterRequestSchema) {}

/** The worker-facing API, authenticated by worker tokens. */
@ApiTags('workers')
@ApiBearerAuth()
@WorkerAuth()
@Controller('api/v1/workers')
export class WorkersController {
  constructor(
    private readonly register: RegisterWorkerUseCase,
    private readonly deregister: DeregisterWorkerUseCase,
  ) {}

  @Post('register')
  @HttpCode(200)
  @ApiOperation({ summary: 'Register a worker with its worker token; idempotent per instance_id' })
  registerWorker(
    @CurrentWorker() w: { principal: WorkerPrincipal; token: WorkerTokenRecord },
    @Body() body: RegisterWorkerDto,
    @ClientIp() ip: string | null,
  ) {
    return this.register.execute(w.principal, w.token, body, ip);
  }

  @Post(':id/deregister')
  @HttpCode(200)
  @ApiOperation({ summary: 'A stopping worker takes itself offline' })
  deregisterWorker(
    @CurrentWorker() w: { principal: WorkerPrincipal },
    @Param() { id }: UuidParamDto,
    @Body() body: DeregisterWorkerDto,
    @ClientIp() ip: string | null,
  ) {
    return this.deregister.execute(w.principal, id, body.reason, ip);
  }
}
