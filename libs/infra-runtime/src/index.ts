export * from './docker.runtime';
export * from './docker-stream-demuxer';
export * from './line-splitter';
export * from './kubernetes.runtime';
export * from './process.runtime';
