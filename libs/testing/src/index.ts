export * from './test-database';
export * from './test-redis';
export * from './wait-for';
export * from './fake-llm-provider';
export * from './docker';
export * from './fake-kubelet';
export * from './kubernetes-cluster';
export * from './kubelet-run';
