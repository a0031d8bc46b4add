import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { BootstrapInstanceUseCase } from '@agentfleet/access';
import { parseEnv } from '@agentfleet/contracts';
import { printBootstrapKey } from './bootstrap-banner';
import { createControlPlaneApp } from './create-app';
import { controlPlaneEnvSchema } from './env';

async function main() {
  const env = parseEnv(controlPlaneEnvSchema, process.env);
  const app = await createControlPlaneApp(env);
  if (env.AGENTFLEET_BOOTSTRAP_ON_START) {
    const boot = await app.get(BootstrapInstanceUseCase).ifEmpty();
    if (boot) printBootstrapKey(boot.organizationName, boot.adminKey);
  }
  await app.listen(env.AGENTFLEET_PORT, env.AGENTFLEET_HOST);
  new Logger('control-plane').log(
    `listening on http://${env.AGENTFLEET_HOST}:${env.AGENTFLEET_PORT} (OpenAPI docs at /docs)`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`control plane failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
