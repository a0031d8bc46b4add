import { createHash } from 'node:crypto';
import type { V1EnvVar, V1Job, V1Secret } from '@kubernetes/client-node';
import { ATTEMPT_LABEL, JOB_LABEL, ORG_LABEL, type RunSpec } from '@agentfleet/execution';

/** The one container of every execution pod; logs are read from it by name. */
export const AGENT_CONTAINER = 'agent';
/** The exact job id, kept beside the (possibly shortened) label value. */
export const JOB_ID_ANNOTATION = 'agentfleet.io/job-id';
/** `none` or `egress`: a namespace NetworkPolicy selects on it (Kubernetes has no per-pod "no network" switch). */
export const NETWORK_LABEL = 'agentfleet.network';

export interface JobManifestOptions {
  namespace: string;
  serviceAccountName?: string;
  imagePullPolicy: 'IfNotPresent' | 'Never';
  runAsUser: number;
  /** Ignored by API servers where the TTLAfterFinished feature is off (alpha and off by default in 1.20). */
  ttlSecondsAfterFinished: number;
  terminationGracePeriodSeconds: number;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 10);
}

/**
 * A valid label value for any string. Valid values pass unchanged; others are cleaned, shortened and
 * suffixed with a hash of the original, so the mapping stays deterministic: removeOrphans selects with it.
 */
export function toLabelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value;
  const cleaned = value
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 52)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return cleaned ? `${cleaned}-${shortHash(value)}` : shortHash(value);
}

/**
 * The Job's name: DNS-1123 label, at most 63 characters, because the Job controller copies it into the
 * pods' `job-name` label. Attempts of one job get different names so a re-run never collides with a
 * Job an older attempt left behind (fencing deletes those by label).
 */
export function jobName(jobId: string, attempt: number): string {
  const suffix = `-a${attempt}`;
  const cleaned = jobId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  const plain = `af-${cleaned}${suffix}`;
  if (plain.length <= 63 && cleaned === jobId) return plain;
  // lossy cleaning or too long: a hash of the exact id keeps two ids from sharing a name
  const room = 63 - 'af-'.length - suffix.length - 11;
  const head = cleaned.slice(0, room).replace(/-+$/, '');
  return `af-${head ? `${head}-` : ''}${shortHash(jobId)}${suffix}`;
}

/**
 * The name of the Secret holding one attempt's secret variables: the Job's name and a suffix (a Secret
 * name may be a 253-character DNS subdomain, so it always fits).
 */
export function secretName(jobId: string, attempt: number): string {
  return `${jobName(jobId, attempt)}-env`;
}

/** Label selector of everything any attempt of `jobId` created. */
export function jobSelector(jobId: string): string {
  return `${JOB_LABEL}=${toLabelValue(jobId)}`;
}

/** Memory in MiB and CPU in millicores, requests equal to limits: the pod gets the Guaranteed QoS class. */
function resources(spec: RunSpec): { limits: Record<string, string>; requests: Record<string, string> } {
  const amounts = {
    memory: `${Math.ceil(spec.memoryLimitMb)}Mi`,
    cpu: `${Math.max(1, Math.round(spec.cpu * 1000))}m`,
  };
  return { limits: { ...amounts }, requests: { ...amounts } };
}

function labelsOf(spec: RunSpec): Record<string, string> {
  return {
    [JOB_LABEL]: toLabelValue(spec.jobId),
    [ATTEMPT_LABEL]: String(spec.attempt),
    [ORG_LABEL]: toLabelValue(spec.organizationId),
    'app.kubernetes.io/managed-by': 'agentfleet',
  };
}

/**
 * The v1 Secret of one attempt's `secretEnv` (one key per variable), or undefined when it has none. It
 * carries the Job's labels, so fencing finds it by the same selector; the runtime creates it before the
 * Job and then makes the Job its owner, so the garbage collector removes it with the Job.
 */
export function buildSecretManifest(
  spec: RunSpec,
  options: Pick<JobManifestOptions, 'namespace'>,
): V1Secret | undefined {
  if (Object.keys(spec.secretEnv).length === 0) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: secretName(spec.jobId, spec.attempt),
      namespace: options.namespace,
      labels: labelsOf(spec),
      annotations: { [JOB_ID_ANNOTATION]: spec.jobId },
    },
    // variable names are letters, digits and '_' (the job schema), always valid Secret keys
    stringData: { ...spec.secretEnv },
  };
}

/** Plain variables by value; secret ones only as references to the attempt's Secret, never by value. */
function containerEnv(spec: RunSpec): V1EnvVar[] {
  const secret = secretName(spec.jobId, spec.attempt);
  return [
    ...Object.entries(spec.env)
      .filter(([name]) => !(name in spec.secretEnv))
      .map(([name, value]) => ({ name, value })),
    ...Object.keys(spec.secretEnv).map((name) => ({
      name,
      valueFrom: { secretKeyRef: { name: secret, key: name } },
    })),
  ];
}

/**
 * The batch/v1 Job for one attempt. One try only (backoffLimit 0, restartPolicy Never): retries are the
 * control plane's decision, with a new attempt number. The pod runs unprivileged with a read-only root
 * and a writable emptyDir on /tmp. `pidsLimit` has no per-pod field in the Kubernetes API (the kubelet's
 * --pod-max-pids sets it per node), so it is not expressed here. `secretEnv` appears only as
 * `secretKeyRef`s to the attempt's Secret (buildSecretManifest): a Job's spec is readable by anyone who
 * may list Jobs, and stored in etcd in plain text.
 */
export function buildJobManifest(spec: RunSpec, options: JobManifestOptions): V1Job {
  const labels = { ...labelsOf(spec), [NETWORK_LABEL]: spec.network ? 'egress' : 'none' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(spec.jobId, spec.attempt),
      namespace: options.namespace,
      labels,
      annotations: { [JOB_ID_ANNOTATION]: spec.jobId },
    },
    spec: {
      backoffLimit: 0,
      // the Job controller enforces the deadline even if this worker dies; whole seconds, rounded up
      activeDeadlineSeconds: Math.max(1, Math.ceil(spec.timeoutMs / 1000)),
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished,
      template: {
        metadata: { labels, annotations: { [JOB_ID_ANNOTATION]: spec.jobId } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          // service links would put every Service of the namespace into the agent's environment
          enableServiceLinks: false,
          ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
          terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: options.runAsUser,
            runAsGroup: options.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: AGENT_CONTAINER,
              image: spec.image,
              imagePullPolicy: options.imagePullPolicy,
              command: spec.command,
              env: containerEnv(spec),
              resources: resources(spec),
              securityContext: {
                runAsNonRoot: true,
                runAsUser: options.runAsUser,
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}
