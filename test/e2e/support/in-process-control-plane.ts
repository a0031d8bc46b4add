import type { INestApplication } from '@nestjs/common';
import { BootstrapInstanceUseCase } from '@agentfleet/access';
import { parseEnv } from '@agentfleet/contracts';
import { type TestDatabase, type TestRedis, createTestDatabase, createTestRedis } from '@agentfleet/testing';
import request from 'supertest';
import { createControlPlaneApp } from '../../../apps/control-plane/src/create-app';
import { type ControlPlaneEnv, controlPlaneEnvSchema } from '../../../apps/control-plane/src/env';

export interface InProcessControlPlane {
  app: INestApplication;
  env: ControlPlaneEnv;
  db: TestDatabase;
  redis: TestRedis;
  /** Instance-admin key of the bootstrapped `default` organization. */
  adminKey: string;
  organizationId: string;
  /** supertest against the app; `as(key)` adds the Authorization header. */
  http(): ReturnType<typeof request>;
  as(key: string): {
    get(path: string): request.Test;
    post(path: string, body?: unknown): request.Test;
    patch(path: string, body?: unknown): request.Test;
    delete(path: string): request.Test;
  };
  close(): Promise<void>;
}

/**
 * The real control plane (Nest app, PostgreSQL, Redis) in the test process, on a database of its own
 * and a Redis key prefix of its own. Listens on an ephemeral port so workers can reach it too.
 */
export async function startInProcessControlPlane(
  overrides: Record<string, string> = {},
  { port = 0 }: { port?: number } = {},
): Promise<InProcessControlPlane & { url: string }> {
  const db = await createTestDatabase();
  const redis = createTestRedis();
  const env = parseEnv(controlPlaneEnvSchema, {
    AGENTFLEET_DATABASE_URL: db.url,
    AGENTFLEET_REDIS_PREFIX: redis.prefix,
    AGENTFLEET_LOG_LEVEL: 'silent',
    AGENTFLEET_MIGRATE_ON_START: 'false',
    AGENTFLEET_HEARTBEAT_INTERVAL_MS: '500',
    AGENTFLEET_WORKER_GRACE_PERIOD_MS: '1500',
    AGENTFLEET_REAPER_INTERVAL_MS: '200',
    AGENTFLEET_LEADER_LOCK_TTL_MS: '2000',
    ...overrides,
  });
  const app = await createControlPlaneApp(env);
  await app.listen(port, '127.0.0.1');
  const boot = await app.get(BootstrapInstanceUseCase).ifEmpty();
  if (!boot) throw new Error('test database was not empty');
  const server = app.getHttpServer();
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : 0;
  const http = () => request(server);
  return {
    app,
    env,
    db,
    redis,
    url: `http://127.0.0.1:${boundPort}`,
    adminKey: boot.adminKey,
    organizationId: boot.organizationId,
    http,
    as: (key: string) => ({
      get: (path) => http().get(path).set('Authorization', `Bearer ${key}`),
      post: (path, body) =>
        http()
          .post(path)
          .set('Authorization', `Bearer ${key}`)
          .send(body as object),
      patch: (path, body) =>
        http()
          .patch(path)
          .set('Authorization', `Bearer ${key}`)
          .send(body as object),
      delete: (path) => http().delete(path).set('Authorization', `Bearer ${key}`),
    }),
    async close() {
      await app.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}
