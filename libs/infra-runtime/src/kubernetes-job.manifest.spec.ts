import type { RunSpec } from '@agentfleet/execution';
import {
  buildJobManifest,
  buildSecretManifest,
  jobName,
  jobSelector,
  secretName,
  toLabelValue,
} from './kubernetes-job.manifest';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const spec: RunSpec = {
  jobId: '0b6f3c1e-4a51-4bb2-9a57-8d7e0c1f2a3b',
  attempt: 2,
  organizationId: 'org_1',
  image: 'agent:1',
  command: ['node', 'main.js'],
  env: { A: '1' },
  secretEnv: {},
  memoryLimitMb: 512,
  cpu: 1.5,
  pidsLimit: 64,
  timeoutMs: 90_001,
  network: false,
};

describe('Kubernetes Job manifest', () => {
  it('names a Job after the job id and attempt, readable when the id is DNS-safe', () => {
    expect(jobName(spec.jobId, 2)).toBe(`af-${spec.jobId}-a2`);
  });

  it('keeps every Job name a DNS-1123 label of at most 63 characters, distinct for distinct ids', () => {
    const ids = ['Job_With.Odd/Chars', 'job_with.odd/chars', 'x'.repeat(200), '---', 'ÄÖÜ'];
    const names = ids.map((id) => jobName(id, 12));
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(63);
      expect(n).toMatch(DNS_LABEL);
    }
    expect(new Set(names).size).toBe(ids.length);
  });

  it('makes label values valid and deterministic, leaving valid ones unchanged', () => {
    expect(toLabelValue(spec.jobId)).toBe(spec.jobId);
    for (const v of ['a b', 'y'.repeat(80), '_x_', '%%%']) {
      expect(toLabelValue(v)).toMatch(LABEL_VALUE);
      expect(toLabelValue(v).length).toBeLessThanOrEqual(63);
      expect(toLabelValue(v)).toBe(toLabelValue(v));
    }
    expect(jobSelector('a b')).toBe(`agentfleet.job_id=${toLabelValue('a b')}`);
  });

  it('sets one try, the deadline rounded up to seconds, and Guaranteed resources', () => {
    const job = buildJobManifest(spec, {
      namespace: 'ns',
      imagePullPolicy: 'IfNotPresent',
      runAsUser: 65534,
      ttlSecondsAfterFinished: 300,
      terminationGracePeriodSeconds: 10,
    });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBe(91);
    const container = job.spec?.template.spec?.containers[0];
    expect(container?.resources).toEqual({
      limits: { memory: '512Mi', cpu: '1500m' },
      requests: { memory: '512Mi', cpu: '1500m' },
    });
    expect(job.spec?.template.metadata?.labels).toMatchObject({
      'agentfleet.job_id': spec.jobId,
      'agentfleet.attempt': '2',
      'agentfleet.organization_id': 'org_1',
      'agentfleet.network': 'none',
    });
  });

  describe('secret variables', () => {
    const VALUE = 'sk-live-never-in-a-job';
    const KEY = 'ak-engine-never-in-a-job';
    const withSecrets: RunSpec = {
      ...spec,
      env: { MODE: 'prod' },
      secretEnv: { API_KEY: VALUE, AGENTFLEET_ENGINE_API_KEY: KEY },
    };
    const options = {
      namespace: 'ns',
      imagePullPolicy: 'IfNotPresent' as const,
      runAsUser: 65534,
      ttlSecondsAfterFinished: 300,
      terminationGracePeriodSeconds: 10,
    };

    it('puts secret variables into the Job only as secretKeyRefs to the attempt Secret, never by value', () => {
      const job = buildJobManifest(withSecrets, options);
      const name = secretName(spec.jobId, spec.attempt);
      expect(job.spec?.template.spec?.containers[0]?.env).toEqual([
        { name: 'MODE', value: 'prod' },
        { name: 'API_KEY', valueFrom: { secretKeyRef: { name, key: 'API_KEY' } } },
        {
          name: 'AGENTFLEET_ENGINE_API_KEY',
          valueFrom: { secretKeyRef: { name, key: 'AGENTFLEET_ENGINE_API_KEY' } },
        },
      ]);
      const json = JSON.stringify(job);
      expect(json).not.toContain(VALUE);
      expect(json).not.toContain(KEY);
      expect(json).not.toContain(Buffer.from(VALUE).toString('base64'));
    });

    it('builds an Opaque Secret in the namespace, named after the Job, with the Job labels and one key per variable', () => {
      const secret = buildSecretManifest(withSecrets, options);
      const job = buildJobManifest(withSecrets, options);
      expect(secret).toMatchObject({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: { name: `${jobName(spec.jobId, spec.attempt)}-env`, namespace: 'ns' },
        stringData: { API_KEY: VALUE, AGENTFLEET_ENGINE_API_KEY: KEY },
      });
      const jobLabels = job.metadata?.labels ?? {};
      for (const label of ['agentfleet.job_id', 'agentfleet.attempt', 'agentfleet.organization_id'])
        expect(secret?.metadata?.labels?.[label]).toBe(jobLabels[label]);
    });

    it('builds no Secret and no reference when there is no secret variable', () => {
      expect(buildSecretManifest(spec, options)).toBeUndefined();
      expect(JSON.stringify(buildJobManifest(spec, options))).not.toContain('secretKeyRef');
    });

    it('never writes a variable both by value and by reference', () => {
      const both: RunSpec = { ...spec, env: { API_KEY: 'plain' }, secretEnv: { API_KEY: VALUE } };
      const env = buildJobManifest(both, options).spec?.template.spec?.containers[0]?.env;
      expect(env).toEqual([
        { name: 'API_KEY', valueFrom: { secretKeyRef: { name: secretName(spec.jobId, 2), key: 'API_KEY' } } },
      ]);
    });
  });
});
