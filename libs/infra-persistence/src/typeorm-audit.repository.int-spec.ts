import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@agentfleet/testing';
import type { DataSource } from 'typeorm';
import { createDataSource } from './data-source';
import { OrganizationEntity } from './entities';
import { TypeormAuditLogRepository } from './typeorm-audit.repository';

let db: TestDatabase;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource({ url: db.url, poolSize: 2 });
  await ds.initialize();
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

async function newOrganization(): Promise<string> {
  const org = await ds.manager.save(
    OrganizationEntity,
    ds.manager.create(OrganizationEntity, { name: `org-${randomBytes(6).toString('hex')}` }),
  );
  return org.id;
}

describe('TypeormAuditLogRepository.recordMany', () => {
  it('writes every entry of a batch in the caller transaction, and nothing for an empty batch', async () => {
    const org = await newOrganization();
    await ds.transaction(async (em) => {
      const audit = new TypeormAuditLogRepository(em);
      await audit.recordMany([]);
      await audit.recordMany(
        ['w1', 'w2', 'w3'].map((id) => ({
          actor: { organizationId: org },
          action: 'worker.lost',
          resourceType: 'worker',
          resourceId: id,
          details: { grace_period_ms: 3000 },
        })),
      );
    });
    const page = await new TypeormAuditLogRepository(ds.manager).list(org, {}, { limit: 10, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.items.map((e) => e.resourceId).sort()).toEqual(['w1', 'w2', 'w3']);
    expect(page.items.every((e) => e.action === 'worker.lost' && e.organizationId === org)).toBe(true);
    expect(page.items[0]!.details).toEqual({ grace_period_ms: 3000 });
  });

  it('rolls the batch back with the transaction', async () => {
    const org = await newOrganization();
    await expect(
      ds.transaction(async (em) => {
        await new TypeormAuditLogRepository(em).recordMany([
          { actor: { organizationId: org }, action: 'worker.lost', resourceType: 'worker', resourceId: 'w1' },
        ]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const page = await new TypeormAuditLogRepository(ds.manager).list(org, {}, { limit: 10, offset: 0 });
    expect(page.total).toBe(0);
  });
});
