export const WORKER_REDIS = Symbol('WORKER_REDIS');
export const LOGGER = Symbol('LOGGER');
