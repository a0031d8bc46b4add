import { parseEnv } from '@agentfleet/contracts';
import { inspect } from 'node:util';
import { controlPlaneEnvSchema } from './env';

const SECRET = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x-_'; // 43 base64url characters
const TOKEN = `awt_AbCdEf123456_${SECRET}`;

const parse = (env: Record<string, string>) => parseEnv(controlPlaneEnvSchema, env);

/** The message start-up stops with, or '' when the environment is accepted. */
function failure(env: Record<string, string>): string {
  try {
    parse({ AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: TOKEN, ...env });
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('control-plane environment: the bootstrap worker token', () => {
  it('leaves the bootstrap worker token off when AGENTFLEET_BOOTSTRAP_WORKER_TOKEN is unset or empty', () => {
    expect(parse({}).AGENTFLEET_BOOTSTRAP_WORKER_TOKEN).toBeUndefined();
    expect(
      parse({ AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: '' }).AGENTFLEET_BOOTSTRAP_WORKER_TOKEN,
    ).toBeUndefined();
  });

  it('reads the token and its settings in the formats the Helm chart renders (join "," and keyValueList)', () => {
    const env = parse({
      AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: TOKEN,
      AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION: 'platform',
      AGENTFLEET_BOOTSTRAP_WORKER_NAME: 'helm-bootstrap',
      AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: 'execute,ingest',
      AGENTFLEET_BOOTSTRAP_WORKER_POOLS: 'default,gpu-a100',
      AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: '8',
      AGENTFLEET_BOOTSTRAP_WORKER_LABELS: 'cluster=prod-eu-1,topology.kubernetes.io/zone=eu-1a',
    });
    expect(env.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN?.reveal()).toBe(TOKEN);
    expect(env).toMatchObject({
      AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION: 'platform',
      AGENTFLEET_BOOTSTRAP_WORKER_NAME: 'helm-bootstrap',
      AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: ['execute', 'ingest'],
      AGENTFLEET_BOOTSTRAP_WORKER_POOLS: ['default', 'gpu-a100'],
      AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: 8,
      AGENTFLEET_BOOTSTRAP_WORKER_LABELS: { cluster: 'prod-eu-1', 'topology.kubernetes.io/zone': 'eu-1a' },
    });
  });

  it('defaults every setting the chart can leave out (no labels renders no variable)', () => {
    expect(parse({ AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: TOKEN })).toMatchObject({
      AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION: 'default',
      AGENTFLEET_BOOTSTRAP_WORKER_NAME: 'bootstrap',
      AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES: ['execute', 'ingest', 'supervise'],
      AGENTFLEET_BOOTSTRAP_WORKER_POOLS: ['default'],
      AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS: 4,
      AGENTFLEET_BOOTSTRAP_WORKER_LABELS: {},
    });
  });

  it.each([
    ['an API key', `afk_AbCdEf123456_${SECRET}`],
    ['a short secret', `awt_AbCdEf123456_${SECRET.slice(1)}`],
    ['a long secret', `${TOKEN}x`],
    ['a prefix with a dash', `awt_AbCdEf-23456_${SECRET}`],
    ['surrounding whitespace', ` ${TOKEN}`],
  ])(
    'stops start-up naming AGENTFLEET_BOOTSTRAP_WORKER_TOKEN for %s, without echoing the value',
    (_what, value) => {
      const message = failure({ AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: value });
      expect(message).toMatch(/AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: .*awt_<12 letters\/digits>_<43 base64url/);
      expect(message).not.toContain(SECRET.slice(0, 20));
    },
  );

  it.each([
    ['AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION', 'Default'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION', 'my org'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_ORGANIZATION', 'a'.repeat(64)],
    ['AGENTFLEET_BOOTSTRAP_WORKER_NAME', '  '],
    ['AGENTFLEET_BOOTSTRAP_WORKER_NAME', 'n'.repeat(256)],
    ['AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES', 'execute,fly'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES', 'execute,execute'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_CAPABILITIES', ''],
    ['AGENTFLEET_BOOTSTRAP_WORKER_POOLS', 'GPU'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_POOLS', 'default,default'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_POOLS', ','],
    ['AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS', '0'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS', '1025'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS', '2.5'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_MAX_CONCURRENT_TASKS', 'four'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_LABELS', 'novalue'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_LABELS', 'zone=a,zone=b'],
    ['AGENTFLEET_BOOTSTRAP_WORKER_LABELS', 'bad key=1'],
  ])('stops start-up naming %s for %j', (name, value) => {
    expect(failure({ [name]: value })).toMatch(
      new RegExp(`^invalid configuration:\\n  ${name}(\\..+?)?: `, 'm'),
    );
  });

  it('never shows the token when the parsed environment is printed (JSON, inspect, string)', () => {
    const env = parse({ AGENTFLEET_BOOTSTRAP_WORKER_TOKEN: TOKEN });
    for (const printed of [
      JSON.stringify(env),
      inspect(env, { depth: 5 }),
      String(env.AGENTFLEET_BOOTSTRAP_WORKER_TOKEN),
    ]) {
      expect(printed).not.toContain(SECRET);
      expect(printed).toContain('awt_AbCdEf123456_');
    }
  });
});
