export * from './scopes';
export * from './fleet';
export * from './api';
export * from './parse-env';
export * from './runtime-events';
