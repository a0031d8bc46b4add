import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { BootstrapInstanceUseCase } from '@agentfleet/access';
import { parseEnv } from '@agentfleet/contracts';
import { ProvisionWorkerTokenUseCase } from '@agentfleet/fleet';
import { printBootstrapKey } from './bootstrap-banner';
import { createControlPlaneApp } from './create-app';
import { controlPlaneEnvSchema } from './env';
import { provisionBootstrapWorkerToken } from './fleet/bootstrap-worker-token';

async function main() {
  const env = parseEnv(controlPlaneEnvSchema, process.env);
  const app = await createControlPlaneApp(env);
  // order matters on a fresh install: the instance bootstrap creates the first organization (the one
  // the bootstrap worker token names, when it is configured), then the token is provisioned in it —
  // both before the port opens, so the chart's workers are never refused by a half-started replica
  if (env.AGENTFLEET_BOOTSTRAP_ON_START) {
    const boot = await app
      .get(BootstrapInstanceUseCase)
      .ifEmpty(
        env.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN ? env.AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION : undefined,
      );
    if (boot) printBootstrapKey(boot.organizationName, boot.adminKey);
  }
  await provisionBootstrapWorkerToken(app.get(ProvisionWorkerTokenUseCase), env, new Logger('bootstrap'));
  await app.listen(env.AGENTFLEET_PORT, env.AGENTFLEET_HOST);
  new Logger('control-plane').log(
    `listening on http://${env.AGENTFLEET_HOST}:${env.AGENTFLEET_PORT} (OpenAPI docs at /docs)`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`control plane failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
