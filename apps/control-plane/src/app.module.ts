import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { loggerOptions } from '@agentfleet/infra-observability';
import { randomUUID } from 'node:crypto';
import { AdminAuditController } from './admin/admin-audit.controller';
import { AdminControlPlaneController } from './admin/admin-control-plane.controller';
import { AdminWorkersController } from './admin/admin-workers.controller';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { AuthGuard } from './common/auth.guard';
import { ErrorFilter } from './common/error.filter';
import { ValidationPipe } from './common/validation.pipe';
import type { ControlPlaneEnv } from './env';
import { ReaperService } from './fleet/reaper.service';
import { HealthController } from './health/health.controller';
import { InfrastructureModule } from './infrastructure.module';
import { OrganizationsController } from './organizations/organizations.controller';
import { USE_CASE_PROVIDERS } from './use-cases.providers';
import { UsersController } from './users/users.controller';
import { WorkerTokensController } from './worker-tokens/worker-tokens.controller';
import { WorkersController } from './workers/workers.controller';
import { AdminExecutionController } from './admin/admin-execution.controller';
import { ExecutionTargetsController } from './execution-targets/execution-targets.controller';
import { JobEventConsumerService } from './jobs/job-event-consumer.service';
import { JobEventStreamService } from './jobs/job-event-stream.service';
import { JobsController } from './jobs/jobs.controller';
import { QueuedJobDispatcherService } from './jobs/queued-job-dispatcher.service';
import { StalledAttemptWatcherService } from './jobs/stalled-attempt-watcher.service';
import { FleetMetricsCollector } from './observability/fleet-metrics.collector';
import { MetricsController } from './observability/metrics.controller';
import {
  ExecutionEnginesController,
  WorkerEnginesController,
} from './execution-engines/execution-engines.controller';
import { SecretsController, WorkerJobSecretsController } from './secrets/secrets.controller';

@Module({})
export class AppModule {
  static forRoot(env: ControlPlaneEnv): DynamicModule {
    return {
      module: AppModule,
      imports: [
        InfrastructureModule.forRoot(env),
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          // fields the guard assigns also go on the request's completion line
          assignResponse: true,
          pinoHttp: {
            ...loggerOptions({
              level: env.AGENTFLEET_LOG_LEVEL,
              format: env.AGENTFLEET_LOG_FORMAT,
              service: 'control-plane',
            }),
            genReqId: (req, res) => {
              const given = req.headers['x-request-id'];
              const id = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
              res.setHeader('x-request-id', id);
              return id;
            },
            // `request_id` on every line of a request (the guard adds organization_id once it knows it)
            quietReqLogger: true,
            customAttributeKeys: { reqId: 'request_id' },
            // one short line per request: no headers (they carry credentials), no bodies
            serializers: {
              req: (req: { id: unknown; method: string; url: string }) => ({
                id: req.id,
                method: req.method,
                url: req.url,
              }),
              res: (res: { statusCode: number }) => ({ status: res.statusCode }),
            },
            autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
          },
        }),
      ],
      controllers: [
        HealthController,
        MetricsController,
        OrganizationsController,
        UsersController,
        ApiKeysController,
        WorkerTokensController,
        WorkersController,
        AdminWorkersController,
        AdminAuditController,
        JobsController,
        ExecutionTargetsController,
        AdminExecutionController,
        AdminControlPlaneController,
        ExecutionEnginesController,
        WorkerEnginesController,
        SecretsController,
        WorkerJobSecretsController,
      ],
      providers: [
        ...USE_CASE_PROVIDERS,
        ReaperService,
        JobEventStreamService,
        JobEventConsumerService,
        StalledAttemptWatcherService,
        QueuedJobDispatcherService,
        FleetMetricsCollector,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_PIPE, useClass: ValidationPipe },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
    };
  }
}
