/**
 * The environment each rendered container would start with, parsed by the process' own env schema
 * (apps/control-plane/src/env.ts, apps/worker/src/env.ts): a value the chart writes wrongly fails here
 * as it would fail the pod at start.
 */
import { parseEnv } from '@agentfleet/contracts';
import { controlPlaneEnvSchema } from '../../apps/control-plane/src/env';
import { workerEnvSchema } from '../../apps/worker/src/env';
import { type KubeObject, objectLabel } from './manifest-validation';

/** Values for variables read from Secrets the chart does not render (existingSecret): well-formed samples. */
const EXTERNAL_SAMPLES: Record<string, string> = {
  AGENTFLEET_DATABASE_URL: 'postgres://agentfleet@postgresql:5432/agentfleet',
  AGENTFLEET_REDIS_URL: 'redis://redis:6379',
  AGENTFLEET_WORKER_TOKEN: `awt_${'A'.repeat(12)}_${'B'.repeat(43)}`,
  AGENTFLEET_SECRET_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
};

function secretValue(objects: KubeObject[], name: string, key: string): string | undefined {
  const s = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name) as
    { stringData?: Record<string, string>; data?: Record<string, string> } | undefined;
  if (!s) return undefined;
  if (s.stringData?.[key] !== undefined) return s.stringData[key];
  const b64 = s.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

interface ContainerSpec {
  name: string;
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
}

/** The environment a container would start with (ConfigMaps, Secrets and literals of the render). */
function containerEnv(objects: KubeObject[], c: ContainerSpec): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const from of c.envFrom ?? []) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name) as
      { data?: Record<string, string> } | undefined;
    Object.assign(env, cm?.data ?? {});
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) env[e.name] = 'agentfleet-worker-5d9c7b8f6-x2x7q';
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      env[e.name] = secretValue(objects, ref.name, ref.key) ?? EXTERNAL_SAMPLES[e.name];
    }
  }
  return env;
}

/** Problems of every container of the chart's Deployments and Jobs (the worker schema for `worker`). */
export function checkProcessEnvironments(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    if (o.kind !== 'Deployment' && o.kind !== 'Job') continue;
    const containers =
      (o['spec'] as { template: { spec: { containers: ContainerSpec[] } } }).template.spec.containers ?? [];
    for (const c of containers) {
      const schema = c.name === 'worker' ? workerEnvSchema : controlPlaneEnvSchema;
      try {
        parseEnv(schema, containerEnv(objects, c));
      } catch (e) {
        problems.push(`${objectLabel(o)} container ${c.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return problems;
}
