export * from './scopes';
export * from './fleet';
export * from './api';
export * from './parse-env';
export * from './runtime-events';
export * from './execution';
export * from './job-catalog';
export * from './job-events';
