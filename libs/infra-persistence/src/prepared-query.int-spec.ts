import { createTestDatabase, type TestDatabase } from '@agentfleet/testing';
import { type DataSource, QueryFailedError } from 'typeorm';
import { createDataSource } from './data-source';
import { preparedQuery } from './prepared-query';

let db: TestDatabase;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase();
  // one connection: every call below lands on the same session, where its prepared statements live
  ds = createDataSource({ url: db.url, poolSize: 1 });
  await ds.initialize();
  await ds.query('CREATE TABLE prepared_probe (id int PRIMARY KEY, label text)');
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

const prepared = async (text: string) =>
  (
    await ds.query<{ statement: string }[]>(
      'SELECT statement FROM pg_prepared_statements WHERE statement = $1',
      [text],
    )
  ).length;

describe('preparedQuery', () => {
  it('prepares a statement once per connection and answers as em.query does', async () => {
    const insert = 'INSERT INTO prepared_probe (id, label) SELECT * FROM unnest($1::int[], $2::text[])';
    await preparedQuery(ds.manager, insert, [
      [1, 2],
      ['a', 'b'],
    ]);
    await preparedQuery(ds.manager, insert, [[3], ['c']]);
    expect(await prepared(insert)).toBe(1);

    const update = 'UPDATE prepared_probe SET label = upper(label) WHERE id = ANY($1::int[]) RETURNING id';
    const [rows, affected] = await preparedQuery<[{ id: number }[], number]>(ds.manager, update, [[1, 3, 9]]);
    expect(affected).toBe(2);
    expect(rows.map((r) => r.id).sort()).toEqual([1, 3]);
    expect(await ds.query('SELECT label FROM prepared_probe ORDER BY id')).toEqual([
      { label: 'A' },
      { label: 'b' },
      { label: 'C' },
    ]);
  });

  it('runs inside the caller transaction: a rollback takes its writes back', async () => {
    await expect(
      ds.transaction(async (em) => {
        await preparedQuery(em, 'INSERT INTO prepared_probe (id, label) VALUES ($1, $2)', [10, 'x']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await ds.query('SELECT count(*)::int AS n FROM prepared_probe WHERE id = 10')).toEqual([{ n: 0 }]);
  });

  it("fails with TypeORM's QueryFailedError carrying PostgreSQL's code (a duplicate key is 23505)", async () => {
    const e: unknown = await preparedQuery(
      ds.manager,
      'INSERT INTO prepared_probe (id, label) VALUES ($1, $2)',
      [1, 'again'],
    ).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(QueryFailedError);
    expect((e as QueryFailedError).driverError).toMatchObject({ code: '23505' });
  });

  it('prepares the statement afresh when a migration changed the table under it', async () => {
    const select = 'SELECT * FROM prepared_probe WHERE id = $1';
    expect(await preparedQuery(ds.manager, select, [1])).toEqual([{ id: 1, label: 'A' }]);
    await ds.query('ALTER TABLE prepared_probe ADD COLUMN note text');
    expect(await preparedQuery(ds.manager, select, [1])).toEqual([{ id: 1, label: 'A', note: null }]);
  });

  it('runs every statement unnamed for a data source made with preparedStatements: false', async () => {
    const plain = createDataSource({ url: db.url, poolSize: 1, preparedStatements: false });
    await plain.initialize();
    try {
      const text = 'SELECT id FROM prepared_probe WHERE id = ANY($1::int[]) ORDER BY id DESC';
      expect(await preparedQuery(plain.manager, text, [[1, 2]])).toEqual([{ id: 2 }, { id: 1 }]);
      expect(
        await plain.query('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1', [
          text,
        ]),
      ).toEqual([{ n: 0 }]);
    } finally {
      await plain.destroy();
    }
  });

  it('inside a transaction, a stale plan fails that transaction and the next one succeeds', async () => {
    const select = 'SELECT * FROM prepared_probe WHERE id = ANY($1::int[]) ORDER BY id';
    await preparedQuery(ds.manager, select, [[2]]);
    await ds.query('ALTER TABLE prepared_probe ADD COLUMN extra int');
    await expect(ds.transaction((em) => preparedQuery(em, select, [[2]]))).rejects.toThrow(
      /cached plan must not change result type/,
    );
    expect(await ds.transaction((em) => preparedQuery(em, select, [[2]]))).toEqual([
      { id: 2, label: 'b', note: null, extra: null },
    ]);
  });
});
