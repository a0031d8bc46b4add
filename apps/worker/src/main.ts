import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { parseEnv } from '@agentfleet/contracts';
import { PermanentRegistrationError } from '@agentfleet/fleet';
import { createLogger } from '@agentfleet/infra-observability';
import { workerEnvSchema } from './env';
import { WorkerRuntimeService } from './worker-runtime.service';
import { WorkerModule } from './worker.module';

/** Exit codes: 0 stopped by signal or control message, 1 crashed, 2 registration refused, 3 token revoked/expired. */
async function main() {
  const env = parseEnv(workerEnvSchema, process.env);
  const logger = createLogger({
    level: env.AGENTFLEET_LOG_LEVEL,
    format: env.AGENTFLEET_LOG_FORMAT,
    service: 'worker',
  });
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(env, logger), {
    logger: false,
  });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  try {
    await app.init();
  } catch (e) {
    logger.error({ error: e instanceof Error ? e.message : String(e) }, 'worker failed to start');
    await app.close().catch(() => undefined);
    process.exit(e instanceof PermanentRegistrationError ? 2 : 1);
  }
  const reason = await app.get(WorkerRuntimeService).whenStopped();
  if (reason.kind !== 'signal') {
    await app.close();
    logger.info({ reason: reason.kind }, 'worker exited');
    process.exit(reason.kind === 'revoked' || reason.kind === 'expired' ? 3 : 0);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`worker failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
