import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** Built-in roles have no organization; custom roles (later) belong to one. */
@Entity('role_definitions')
@Index(['name'], { unique: true, where: 'organization_id IS NULL' })
@Index(['organizationId', 'name'], { unique: true, where: 'organization_id IS NOT NULL' })
export class RoleDefinitionEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'uuid', nullable: true }) organizationId!: string | null;
  @Column({ type: 'varchar', length: 100 }) name!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) permissions!: string[];
  @Column({ type: 'boolean', default: false }) isBuiltin!: boolean;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt!: Date;
}
