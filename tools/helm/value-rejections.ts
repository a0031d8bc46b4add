/**
 * Wrong values helm must refuse — through values.schema.json, or a template's `fail` where JSON Schema
 * cannot say it — with the message each helm major prints, so that a user sees the key at fault.
 */
import { type ChartCheck, render } from './chart-context';

/** A values change helm must refuse, and the words each helm major prints for it. */
interface Rejection {
  name: string;
  /** values.schema.json, or a `fail` in the templates (agentfleet.validate) for what JSON Schema cannot say */
  by: 'schema' | 'template';
  args: string[];
  expect: Record<number, string>;
}

const DB = ['--set', 'database.url=postgres://a@db/agentfleet'];
const REDIS = ['--set', 'redis.url=redis://redis:6379'];
const REJECTIONS: Rejection[] = [
  {
    name: 'negative controlPlane.replicas',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'controlPlane.replicas=-1'],
    expect: {
      4: "at '/controlPlane/replicas': minimum: got -1, want 0",
      3: 'controlPlane.replicas: Must be greater than or equal to 0',
    },
  },
  {
    name: 'negative worker.replicas',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'worker.replicas=-3'],
    expect: {
      4: "at '/worker/replicas': minimum: got -3, want 0",
      3: 'worker.replicas: Must be greater than or equal to 0',
    },
  },
  {
    name: 'a missing database URL (no existingSecret)',
    by: 'schema',
    args: [...REDIS],
    expect: {
      4: "at '/database/url': '' does not match pattern '^postgres(ql)?://.+'",
      3: "database.url: Does not match pattern '^postgres(ql)?://.+'",
    },
  },
  {
    name: 'a missing Redis URL (no existingSecret)',
    by: 'schema',
    args: [...DB],
    expect: {
      4: "at '/redis/url': '' does not match pattern '^rediss?://.+'",
      3: "redis.url: Does not match pattern '^rediss?://.+'",
    },
  },
  {
    name: 'a database URL that is not PostgreSQL',
    by: 'schema',
    args: [...REDIS, '--set', 'database.url=mysql://db/agentfleet'],
    expect: {
      4: "at '/database/url': 'mysql://db/agentfleet' does not match pattern",
      3: 'database.url: Does not match pattern',
    },
  },
  {
    name: 'a bad log level',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'controlPlane.logLevel=verbose'],
    expect: {
      4: "at '/controlPlane/logLevel': value must be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'",
      3: 'controlPlane.logLevel must be one of the following: "fatal", "error", "warn", "info", "debug", "trace", "silent"',
    },
  },
  {
    name: 'an unknown worker runtime',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'worker.runtimes={containerd}'],
    expect: {
      4: "at '/worker/runtimes/0': value must be one of 'kubernetes', 'process', 'docker'",
      3: 'worker.runtimes.0 must be one of the following: "kubernetes", "process", "docker"',
    },
  },
  {
    name: 'an unknown migrations.mode',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'migrations.mode=manual'],
    expect: {
      4: "at '/migrations/mode': value must be one of 'hook', 'onStart'",
      3: 'migrations.mode must be one of the following: "hook", "onStart"',
    },
  },
  {
    name: 'a misspelt key',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'controlplane.replicas=3'],
    expect: {
      4: "additional properties 'controlplane' not allowed",
      3: 'Additional property controlplane is not allowed',
    },
  },
  {
    name: 'a malformed bootstrap worker token',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'bootstrapWorkerToken.value=awt_short_secret'],
    expect: {
      4: "at '/bootstrapWorkerToken/value': 'awt_short_secret' does not match pattern",
      3: 'bootstrapWorkerToken.value: Does not match pattern',
    },
  },
  {
    name: 'KEDA on while autoscaling is off',
    by: 'schema',
    args: [...DB, ...REDIS, '--set', 'worker.autoscaling.keda.enabled=true'],
    expect: {
      4: "at '/worker/autoscaling/enabled': value must be true",
      3: 'worker.autoscaling.enabled: worker.autoscaling.enabled does not match: true',
    },
  },
  {
    name: 'a grace period not longer than the heartbeat',
    by: 'template',
    args: [...DB, ...REDIS, '--set', 'controlPlane.workerGracePeriodMs=5000'],
    expect: {
      4: 'controlPlane.workerGracePeriodMs (5000) must be longer than controlPlane.heartbeatIntervalMs (5000)',
      3: 'controlPlane.workerGracePeriodMs (5000) must be longer than controlPlane.heartbeatIntervalMs (5000)',
    },
  },
  {
    name: 'KEDA with a Redis Secret of yours and no keda.redis.address',
    by: 'template',
    args: [
      ...DB,
      '--set',
      'redis.existingSecret=my-redis',
      '--set',
      'worker.autoscaling.enabled=true',
      '--set',
      'worker.autoscaling.keda.enabled=true',
    ],
    expect: {
      4: 'worker.autoscaling.keda.redis.address is required (host:port) when redis.existingSecret is used',
      3: 'worker.autoscaling.keda.redis.address is required (host:port) when redis.existingSecret is used',
    },
  },
];

/** One check per refusal, each run with every helm. */
export function rejectionChecks(): ChartCheck[] {
  return REJECTIONS.map(rejects);
}

function rejects(r: Rejection): ChartCheck {
  return {
    name: `helm refuses ${r.name} (${r.by === 'schema' ? 'values.schema.json' : 'template check'})`,
    timeoutMs: 60_000,
    async run(ctx) {
      const notes: string[] = [];
      for (const helm of ctx.tools.helms) {
        const out = await render(ctx, helm, r.args);
        const wanted = r.expect[helm.major];
        if (out.code === 0)
          throw new Error(
            `helm ${helm.version} template accepted ${r.args.filter((a) => a !== '--set').join(' ')}`,
          );
        if (wanted === undefined) throw new Error(`no expected message for helm ${helm.major}`);
        if (!out.stderr.includes(wanted))
          throw new Error(
            `helm ${helm.version} refused, but without the expected message\n  expected: ${wanted}\n  got: ${out.stderr.trim()}`,
          );
        notes.push(`helm ${helm.version}: ${wanted}`);
      }
      return { notes };
    },
  };
}
