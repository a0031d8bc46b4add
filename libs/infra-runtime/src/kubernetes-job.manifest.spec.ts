import type { RunSpec } from '@agentfleet/execution';
import { buildJobManifest, jobName, jobSelector, toLabelValue } from './kubernetes-job.manifest';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const spec: RunSpec = {
  jobId: '0b6f3c1e-4a51-4bb2-9a57-8d7e0c1f2a3b',
  attempt: 2,
  organizationId: 'org_1',
  image: 'agent:1',
  command: ['node', 'main.js'],
  env: { A: '1' },
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
});
