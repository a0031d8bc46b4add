export * from './logger';
export * from './metric-catalog';
export * from './metrics';
