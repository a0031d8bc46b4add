import type { ExecutionRunPayload } from '@agentfleet/contracts';
import type { ContainerRuntime } from '@agentfleet/execution';
import { DockerRuntime, KubernetesRuntime, ProcessRuntime } from '@agentfleet/infra-runtime';
import type { WorkerEnv } from '../env';

type Target = ExecutionRunPayload['targets'][number];

/** The runtime adapter for a target, from its connection settings (the worker's env fills in defaults). */
export function makeRuntime(t: Target, env: WorkerEnv): ContainerRuntime {
  if (!env.AGENTFLEET_WORKER_RUNTIMES.includes(t.type)) {
    throw new Error(
      `this worker does not drive ${t.type} targets (AGENTFLEET_WORKER_RUNTIMES=${env.AGENTFLEET_WORKER_RUNTIMES.join(',')})`,
    );
  }
  const c = t.connection as {
    socket_path?: string;
    host?: string;
    port?: number;
    namespace?: string;
    kubeconfig_path?: string;
    network_mode?: string;
  };
  switch (t.type) {
    case 'docker':
      return new DockerRuntime(
        c.host ? { host: c.host, port: c.port ?? 2375 } : { socketPath: c.socket_path ?? env.AGENTFLEET_DOCKER_SOCKET },
        c.network_mode ? { networkMode: c.network_mode } : {},
      );
    case 'process':
      return new ProcessRuntime();
    case 'kubernetes': {
      const kubeconfigPath = c.kubeconfig_path ?? env.AGENTFLEET_KUBECONFIG;
      return new KubernetesRuntime(kubeconfigPath ? { kubeconfigPath } : { inCluster: true }, { namespace: c.namespace ?? 'agentfleet-jobs' });
    }
  }
}
