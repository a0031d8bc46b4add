export * from './node-credential-hasher.adapter';
