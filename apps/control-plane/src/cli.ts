import 'reflect-metadata';
import { BootstrapInstanceUseCase } from '@agentfleet/access';
import { parseEnv } from '@agentfleet/contracts';
import { NodeCredentialHasher } from '@agentfleet/infra-crypto';
import {
  TypeormUnitOfWork,
  accessRepositories,
  createDataSource,
  runMigrations,
} from '@agentfleet/infra-persistence';
import { printBootstrapKey } from './bootstrap-banner';
import { controlPlaneEnvSchema } from './env';

const USAGE = `usage: npm run cli -- <command>
  migrate                 apply pending database migrations
  bootstrap [--org NAME]  issue a new instance-admin API key (creating the organization if needed)`;

/** Operator commands that need the database but not the HTTP server. */
async function main(argv: string[]) {
  const [command, ...rest] = argv;
  if (command !== 'migrate' && command !== 'bootstrap') {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  const env = parseEnv(controlPlaneEnvSchema, process.env);
  const ds = createDataSource({
    url: env.AGENTFLEET_DATABASE_URL,
    poolSize: 2,
    applicationName: 'agentfleet-cli',
  });
  await ds.initialize();
  try {
    const applied = await runMigrations(ds);
    process.stdout.write(
      applied.length ? `applied migrations: ${applied.join(', ')}\n` : 'database is up to date\n',
    );
    if (command === 'bootstrap') {
      const i = rest.indexOf('--org');
      const org = i >= 0 ? rest[i + 1] : 'default';
      if (!org || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(org))
        throw new Error('--org takes a name of lowercase letters, digits and dashes');
      const uc = new BootstrapInstanceUseCase(
        new TypeormUnitOfWork(ds, accessRepositories),
        new NodeCredentialHasher(),
      );
      const r = await uc.always(org);
      printBootstrapKey(r.organizationName, r.adminKey);
    }
    return 0;
  } finally {
    await ds.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
