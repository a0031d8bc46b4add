import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Written by hand (the schema builder does not model triggers): secrets.updated_at kept by the database. */
export class SecretsUpdatedAtTrigger1795538356112 implements MigrationInterface {
  name = 'SecretsUpdatedAtTrigger1795538356112';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TRIGGER "secrets_set_updated_at" BEFORE UPDATE ON "secrets" FOR EACH ROW EXECUTE FUNCTION af_set_updated_at()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER IF EXISTS "secrets_set_updated_at" ON "secrets"`);
  }
}
