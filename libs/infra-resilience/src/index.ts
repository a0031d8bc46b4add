export * from './opossum-breakers.adapter';
