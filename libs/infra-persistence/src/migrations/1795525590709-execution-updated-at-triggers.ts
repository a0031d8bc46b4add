import type { MigrationInterface, QueryRunner } from 'typeorm';

const TABLES = ['execution_targets', 'execution_engines', 'supervisor_runs', 'execution_jobs'];

/** Written by hand (the schema builder does not model triggers): updated_at kept by the database. */
export class ExecutionUpdatedAtTriggers1795525590709 implements MigrationInterface {
  name = 'ExecutionUpdatedAtTriggers1795525590709';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const t of TABLES) {
      await queryRunner.query(
        `CREATE TRIGGER "${t}_set_updated_at" BEFORE UPDATE ON "${t}" FOR EACH ROW EXECUTE FUNCTION af_set_updated_at()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const t of TABLES) await queryRunner.query(`DROP TRIGGER IF EXISTS "${t}_set_updated_at" ON "${t}"`);
  }
}
