import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Append-only: who did what to which object, from where. */
@Entity('audit_log')
@Index(['organizationId', 'createdAt'])
@Index(['organizationId', 'resourceType', 'resourceId'])
export class AuditLogEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'uuid' }) organizationId!: string;
  @Column({ type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ type: 'uuid', nullable: true }) apiKeyId!: string | null;
  @Column({ type: 'uuid', nullable: true }) workerTokenId!: string | null;
  @Column({ type: 'varchar', length: 100 }) action!: string;
  @Column({ type: 'varchar', length: 100 }) resourceType!: string;
  @Column({ type: 'varchar', length: 255, nullable: true }) resourceId!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) details!: Record<string, unknown>;
  @Column({ type: 'varchar', length: 45, nullable: true }) ipAddress!: string | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
}
