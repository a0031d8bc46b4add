import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { Public } from '../common/auth.decorators';
import { DATA_SOURCE, REDIS } from '../tokens';

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms).unref()),
  ]);
}

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Liveness: the process answers. Never checks dependencies (a Redis outage must not restart every pod). */
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: PostgreSQL and Redis answer. */
  @Get('readyz')
  @HealthCheck()
  readyz() {
    return this.health.check([
      () => this.probe('postgres', () => this.ds.query('SELECT 1')),
      () => this.probe('redis', () => this.redis.ping()),
    ]);
  }

  private async probe(key: string, fn: () => Promise<unknown>) {
    const i = this.indicator.check(key);
    try {
      await withTimeout(fn(), PROBE_TIMEOUT_MS);
      return i.up();
    } catch (e) {
      return i.down({ message: e instanceof Error ? e.message : String(e) });
    }
  }
}
