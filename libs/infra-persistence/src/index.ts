export * from './entities';
export * from './data-source';
export * from './typeorm-unit-of-work';
export * from './typeorm-access.repositories';
export * from './typeorm-fleet.repositories';
export * from './typeorm-audit.repository';
export * from './migrations';
export * from './typeorm-execution.repositories';
