import type { MigrationInterface, QueryRunner } from 'typeorm';

const TABLES = ['organizations', 'users', 'api_keys', 'role_definitions', 'worker_tokens', 'workers'];

/**
 * Written by hand: the schema builder does not model triggers. `updated_at` is kept by the database, so
 * raw SQL updates (conditional transitions) keep it right too.
 */
export class UpdatedAtTriggers1795523014475 implements MigrationInterface {
  name = 'UpdatedAtTriggers1795523014475';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE OR REPLACE FUNCTION af_set_updated_at() RETURNS trigger AS $$
      BEGIN NEW.updated_at = now(); RETURN NEW; END; $$ LANGUAGE plpgsql`);
    for (const t of TABLES) {
      await queryRunner.query(
        `CREATE TRIGGER "${t}_set_updated_at" BEFORE UPDATE ON "${t}" FOR EACH ROW EXECUTE FUNCTION af_set_updated_at()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const t of TABLES) await queryRunner.query(`DROP TRIGGER IF EXISTS "${t}_set_updated_at" ON "${t}"`);
    await queryRunner.query(`DROP FUNCTION IF EXISTS af_set_updated_at()`);
  }
}
