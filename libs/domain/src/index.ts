export * from './errors';
export * from './credential';
export * from './worker-liveness';
export * from './principal';
export * from './ports';
export * from './execution-job';
export * from './batcher';
