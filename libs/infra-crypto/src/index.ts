export * from './node-credential-hasher.adapter';
export * from './aes-gcm-secret-box.adapter';
