import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { parseEnv } from '@agentfleet/contracts';
import { PermanentRegistrationError, type StopReason } from '@agentfleet/fleet';
import { createLogger } from '@agentfleet/infra-observability';
import { workerEnvSchema } from './env';
import { workerLogFields } from './log-fields';
import { WorkerRuntimeService } from './worker-runtime.service';
import { WorkerModule } from './worker.module';

/** Exit codes: 0 stopped (signal or control message), 1 crashed, 2 registration refused, 3 token revoked/expired. */
const EXIT = { ok: 0, crash: 1, refused: 2, tokenDead: 3 } as const;

async function main(): Promise<number> {
  const env = parseEnv(workerEnvSchema, process.env);
  const logger = createLogger({
    level: env.AGENTFLEET_LOG_LEVEL,
    format: env.AGENTFLEET_LOG_FORMAT,
    service: 'worker',
    fields: workerLogFields,
  });
  let app: INestApplicationContext | undefined;
  // signals during start-up abort registration; afterwards they stop the worker cleanly
  const signalled = new Promise<StopReason>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const)
      process.once(s, () => resolve({ kind: 'signal', signal: s }));
  });
  try {
    // createApplicationContext runs the lifecycle hooks, registration included
    app = await NestFactory.createApplicationContext(WorkerModule.forRoot(env, logger), {
      logger: false,
      abortOnError: false,
    });
  } catch (e) {
    logger.error({ error: e instanceof Error ? e.message : String(e) }, 'worker failed to start');
    return e instanceof PermanentRegistrationError ? EXIT.refused : EXIT.crash;
  }
  const runtime = app.get(WorkerRuntimeService);
  const reason = await Promise.race([signalled, runtime.whenStopped()]);
  if (reason.kind === 'signal') await runtime.lifecycle.stop(reason);
  await app.close();
  logger.info({ reason: reason.kind }, 'worker exited');
  return reason.kind === 'revoked' || reason.kind === 'expired' ? EXIT.tokenDead : EXIT.ok;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`worker failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(EXIT.crash);
  },
);
