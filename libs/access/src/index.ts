export * from './access.ports';
export * from './api-key.view';
export * from './authenticate-api-key.use-case';
export * from './manage-api-keys.use-case';
export * from './manage-users.use-case';
export * from './manage-organizations.use-case';
export * from './bootstrap-instance.use-case';
export * from './read-audit-log.use-case';
