/**
 * The Role the chart grants the worker's ServiceAccount (templates/kubernetes-runtime.yaml, "worker-jobs"),
 * proven with that account's own identity against a real Kubernetes v1.20 control plane with RBAC on
 * (shared/k8s): the chart's ServiceAccount, Role and RoleBinding are really applied, the token controller
 * issues the account's token, and the real KubernetesRuntime authenticated with it runs a job with a
 * secret variable (Secret, Job, watches, pods/log, cleanup) and fences an older attempt (removeOrphans).
 * The fake kubelet plays the node with the admin credentials. The account must be refused outside its grant.
 */
import { randomUUID } from 'node:crypto';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { JOB_LABEL, type RunOutcome } from '@agentfleet/execution';
import { KubernetesRuntime, jobName, loadKubernetesClient, secretName } from '@agentfleet/infra-runtime';
import {
  FakeKubelet,
  kubeletRunSpec,
  recordingRunIO,
  startTestKubernetesCluster,
  waitFor,
} from '@agentfleet/testing';
import { type ChartCheck, exec, renderObjects } from './chart-context';
import type { KubeObject } from './manifest-validation';

function statusCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The HTTP status a call ends with: 0 when it succeeds. */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 0;
  } catch (e) {
    const code = statusCode(e);
    if (code === undefined) throw e;
    return code;
  }
}

/** What the runtime swallowed into the evidence rather than threw (a forbidden cleanup, a refused log). */
function swallowedErrors(outcome: RunOutcome): string[] {
  return ['cleanupError', 'logStreamError']
    .filter((k) => outcome.evidence[k] !== undefined)
    .map((k) => `${k}: ${String(outcome.evidence[k])}`);
}

/** A call of the runtime as the account; a refusal (403) names what the Role lacks. */
async function asAccount<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new Error(`KubernetesRuntime.${what} as the worker ServiceAccount failed: ${detail}`, { cause: e });
  }
}

export const workerRbac: ChartCheck = {
  name: "the worker ServiceAccount's Role lets the Kubernetes runtime run a job as that account (real API server, RBAC on)",
  timeoutMs: 300_000,
  async run(ctx) {
    const notes: string[] = [];
    const { kubectl } = ctx.tools;
    const helm = ctx.tools.helms[0];
    if (!helm) throw new Error('no helm');
    const defaults = ctx.valueSets.find((s) => s.name === 'defaults');
    if (!defaults) throw new Error('the "defaults" value set is missing');
    const k8s = await loadKubernetesClient();
    const cluster = await startTestKubernetesCluster();
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath };
    // a runtime namespace of this run's own (a shared AGENTFLEET_TEST_KUBECONFIG cluster may hold others)
    const jobsNamespace = `${cluster.namespace}-jobs`;
    let kubelet: FakeKubelet | undefined;
    let namespaceCreated = false;
    try {
      // 1. the chart's worker ServiceAccount, Role and RoleBinding, really applied (release namespace =
      // the cluster's fresh one, the runtime namespace a configured one of its own)
      const set = {
        ...defaults,
        args: [
          ...defaults.args,
          '--set',
          'worker.runtimes={kubernetes}',
          '--set',
          'kubernetesRuntime.rbac.create=true',
          '--set',
          `kubernetesRuntime.namespace=${jobsNamespace}`,
        ],
      };
      const objects = await renderObjects(ctx, helm, set, cluster.namespace);
      const roles = objects.filter((o) => o.kind === 'Role' && o.metadata.name.endsWith('worker-jobs'));
      const bindings = objects.filter(
        (o) => o.kind === 'RoleBinding' && o.metadata.name.endsWith('worker-jobs'),
      );
      if (roles.length !== 1 || bindings.length !== 1)
        throw new Error(
          `expected one Role and one RoleBinding "…worker-jobs", the chart rendered ${roles.length} and ${bindings.length}`,
        );
      const [role, binding] = [roles[0] as KubeObject, bindings[0] as KubeObject];
      for (const o of [role, binding])
        if (o.metadata.namespace !== jobsNamespace)
          throw new Error(`${o.kind} ${o.metadata.name} is in ${o.metadata.namespace}, not ${jobsNamespace}`);
      const subjects = (binding['subjects'] ?? []) as { kind: string; name: string; namespace?: string }[];
      const subject = subjects.find((s) => s.kind === 'ServiceAccount');
      if (!subject || subjects.length !== 1)
        throw new Error(`the RoleBinding should bind one ServiceAccount: ${JSON.stringify(subjects)}`);
      const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === subject.name);
      if (!account)
        throw new Error(`the chart renders no ServiceAccount ${subject.name} for the RoleBinding`);
      account.metadata.namespace ??= cluster.namespace;
      if (subject.namespace !== account.metadata.namespace)
        throw new Error(
          `the RoleBinding names ${subject.namespace}/${subject.name}, the account is in ${account.metadata.namespace}`,
        );
      const namespaceObject = objects.find(
        (o) => o.kind === 'Namespace' && o.metadata.name === jobsNamespace,
      );
      const namespace = namespaceObject ?? {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: jobsNamespace },
      };
      const made = await exec(kubectl, ['create', '-f', '-'], env, JSON.stringify(namespace));
      if (made.code !== 0) throw new Error(`creating namespace ${jobsNamespace}: ${made.stderr}`);
      namespaceCreated = true;
      const list = { apiVersion: 'v1', kind: 'List', items: [account, role, binding] };
      const applied = await exec(kubectl, ['apply', '-f', '-'], env, JSON.stringify(list));
      if (applied.code !== 0)
        throw new Error(`applying the ServiceAccount, Role and RoleBinding failed:\n${applied.stderr}`);
      notes.push(
        `applied ServiceAccount ${account.metadata.namespace}/${account.metadata.name}, Role and RoleBinding ` +
          `${role.metadata.name} in ${jobsNamespace}` +
          (namespaceObject
            ? ' (namespace as the chart renders it)'
            : ' (namespace created: the chart makes none)'),
      );

      // 2. the account's own token, issued by the controller-manager's token controller (v1.20)
      const adminCore = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      const adminBatch = cluster.kubeConfig.makeApiClient(k8s.BatchV1Api);
      const accountNamespace = account.metadata.namespace;
      const token = await waitFor(
        async () => {
          const sa = await adminCore.readNamespacedServiceAccount({
            name: account.metadata.name,
            namespace: accountNamespace,
          });
          for (const ref of sa.secrets ?? []) {
            const secret = await adminCore.readNamespacedSecret({
              name: ref.name ?? '',
              namespace: accountNamespace,
            });
            const data = secret.data?.['token'];
            if (secret.type === 'kubernetes.io/service-account-token' && data)
              return Buffer.from(data, 'base64').toString('utf8');
          }
          return undefined;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 250,
          what: `the token Secret of ServiceAccount ${account.metadata.name}`,
        },
      ).catch((e: unknown) => {
        throw new Error(
          `no token for the worker ServiceAccount: the test cluster's controller-manager must run with ` +
            `--service-account-private-key-file (shared/k8s/up.sh): ${String(e)}`,
        );
      });
      const server = cluster.kubeConfig.getCurrentCluster();
      if (!server) throw new Error('the admin kubeconfig names no cluster');
      const saKubeConfig: KubeConfig = new k8s.KubeConfig();
      saKubeConfig.loadFromOptions({
        clusters: [server],
        users: [{ name: 'worker', token }],
        contexts: [{ name: 'worker', cluster: server.name, user: 'worker' }],
        currentContext: 'worker',
      });
      const saCore = saKubeConfig.makeApiClient(k8s.CoreV1Api);
      const saBatch = saKubeConfig.makeApiClient(k8s.BatchV1Api);
      const review = await saKubeConfig.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              namespace: jobsNamespace,
              group: 'batch',
              resource: 'jobs',
              verb: 'create',
            },
          },
        },
      });
      if (!review.status?.allowed)
        throw new Error(
          `the API server says the account may not create Jobs: ${JSON.stringify(review.status)}`,
        );

      // 3. the real runtime as the account; the fake kubelet (admin) plays the node
      kubelet = await FakeKubelet.start({ kubeConfig: cluster.kubeConfig });
      const runtime = new KubernetesRuntime(saKubeConfig, {
        namespace: jobsNamespace,
        imagePullPolicy: 'Never',
      });
      await runtime.ping();
      const secretsOf = async (jobId: string): Promise<V1Secret[]> =>
        (
          await adminCore.listNamespacedSecret({
            namespace: jobsNamespace,
            labelSelector: `${JOB_LABEL}=${jobId}`,
          })
        ).items;
      const jobGone = async (name: string) =>
        (await statusOf(() => adminBatch.readNamespacedJob({ name, namespace: jobsNamespace }))) === 404;

      const expected = `sk-${randomUUID()}`;
      const spec = kubeletRunSpec(
        `console.log(process.env.API_KEY === ${JSON.stringify(expected)} ? 'secret ok' : 'bad')`,
        { secretEnv: { API_KEY: expected } },
      );
      const { io, lines } = recordingRunIO();
      const outcome = await asAccount('run(spec with secretEnv)', runtime.run(spec, io));
      const problems: string[] = [];
      if (outcome.exitCode !== 0)
        problems.push(`exit code ${outcome.exitCode}: ${JSON.stringify(outcome.evidence)}`);
      if (JSON.stringify(lines) !== JSON.stringify(['secret ok']))
        problems.push(`stdout ${JSON.stringify(lines)}, expected ["secret ok"]`);
      problems.push(...swallowedErrors(outcome));
      if (!(await jobGone(jobName(spec.jobId, 1)))) problems.push('the Job is left after the run');
      const left = await secretsOf(spec.jobId);
      if (left.length)
        problems.push(`Secret(s) left after the run: ${left.map((s) => s.metadata?.name).join(', ')}`);
      if (problems.length)
        throw new Error(`the run as the worker ServiceAccount failed:\n${problems.join('\n')}`);
      notes.push(
        'as the ServiceAccount: Secret + Job created, pod watched, log followed ("secret ok"), exit 0, Job and Secret deleted',
      );

      // fencing: attempt 2 removes attempt 1 (running, with its Secret) by label
      const fenced = kubeletRunSpec('console.log("up"); setInterval(() => {}, 1000)', {
        secretEnv: { API_KEY: 'older' },
      });
      const older = recordingRunIO();
      const running = runtime.run(fenced, older.io);
      // awaited below; a failure before that must not become an unhandled rejection
      running.catch(() => undefined);
      await waitFor(() => older.started.length > 0, { timeoutMs: 30_000, what: 'attempt 1 running' });
      if ((await secretsOf(fenced.jobId)).length !== 1)
        throw new Error(`attempt 1 has no Secret (${secretName(fenced.jobId, 1)}) while it runs`);
      const removed = await asAccount('removeOrphans(jobId)', runtime.removeOrphans(fenced.jobId));
      const olderOutcome = await asAccount('run(attempt 1, fenced)', running);
      if (removed < 1) throw new Error(`removeOrphans removed ${removed} Jobs, expected attempt 1's`);
      if (!(await jobGone(jobName(fenced.jobId, 1))))
        throw new Error("attempt 1's Job is left after removeOrphans");
      if ((await secretsOf(fenced.jobId)).length)
        throw new Error(`attempt 1's Secret is left after removeOrphans`);
      if (olderOutcome.evidence['jobDeleted'] === undefined)
        throw new Error(`attempt 1 did not see its Job deleted: ${JSON.stringify(olderOutcome.evidence)}`);
      notes.push(
        `as the ServiceAccount: removeOrphans fenced a running attempt (${removed} Job, its pod and Secret)`,
      );

      // 4. nothing outside the grant
      const refusals: [string, () => Promise<unknown>][] = [
        [
          `list secrets in ${cluster.namespace} (the release namespace)`,
          () => saCore.listNamespacedSecret({ namespace: cluster.namespace }),
        ],
        ['list nodes', () => saCore.listNode()],
        [
          `list jobs in ${cluster.namespace}`,
          () => saBatch.listNamespacedJob({ namespace: cluster.namespace }),
        ],
      ];
      const allowed: string[] = [];
      for (const [what, call] of refusals) {
        const code = await statusOf(call);
        if (code !== 403) allowed.push(`${what}: HTTP ${code || 200}, expected 403`);
      }
      if (allowed.length)
        throw new Error(`the ServiceAccount is not confined to its grant:\n${allowed.join('\n')}`);
      notes.push(`refused (403) as the ServiceAccount: ${refusals.map(([w]) => w).join('; ')}`);

      if (kubelet.errors.length) throw new Error(`the fake kubelet failed:\n${kubelet.errors.join('\n')}`);
      return { notes };
    } finally {
      await kubelet?.stop();
      if (namespaceCreated) await exec(kubectl, ['delete', 'namespace', jobsNamespace, '--wait=false'], env);
      await cluster.stop();
    }
  },
};
