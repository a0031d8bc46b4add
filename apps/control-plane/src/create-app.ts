import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type NextFunction, type Request, type Response, json } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger as PinoLogger } from 'nestjs-pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { AppModule } from './app.module';
import { isBodyParserError, sendError } from './common/error.filter';
import type { ControlPlaneEnv } from './env';
import { httpMetricsMiddleware } from './observability/http-metrics.middleware';
import { METRICS_REGISTRY } from './tokens';
import type { Metrics } from '@agentfleet/infra-observability';

/** Builds the HTTP application (used by main.ts and by the e2e tests alike). */
export async function createControlPlaneApp(env: ControlPlaneEnv): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(env), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(PinoLogger));
  app.set('trust proxy', env.AGENTFLEET_TRUST_PROXY);
  app.disable('x-powered-by');
  // first: every request is measured, also the ones the body parser refuses
  app.use(httpMetricsMiddleware(app.get<Metrics>(METRICS_REGISTRY)));
  // strict JSON only; a body over the limit is refused with 413 before any handler runs
  app.use(json({ limit: env.AGENTFLEET_BODY_LIMIT, strict: true }));
  const logger = new Logger('http');
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (isBodyParserError(err)) sendError(res, err, logger);
    else next(err);
  });
  app.enableShutdownHooks();

  const config = new DocumentBuilder()
    .setTitle('AgentFleet control plane')
    .setDescription(
      'REST API and operator admin API. Authenticate with `Authorization: Bearer afk_…` (API key) or `awt_…` (worker token, /api/v1/workers).',
    )
    .setVersion('v1')
    .addBearerAuth()
    .build();
  const doc = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, cleanupOpenApiDoc(doc), { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}
