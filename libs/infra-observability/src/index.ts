export * from './logger';
export * from './metric-catalog';
