export * from './bullmq-execution-queue.adapter';
