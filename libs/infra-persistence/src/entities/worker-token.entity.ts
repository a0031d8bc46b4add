import { TenantOwned } from './tenant-owned';
import { Check, Column, Entity, Index } from 'typeorm';

@Entity('worker_tokens')
@Check('CHK_worker_tokens_max_concurrent', 'max_concurrent_tasks > 0')
@Index(['organizationId', 'createdAt'])
export class WorkerTokenEntity extends TenantOwned {
  @Column({ type: 'varchar', length: 255 }) name!: string;
  @Column({ type: 'varchar', length: 12, unique: true }) prefix!: string;
  @Column({ type: 'varchar', length: 64, unique: true }) tokenHash!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) labels!: Record<string, string>;
  @Column({ type: 'text', array: true, default: () => "'{execute,ingest}'" }) capabilities!: string[];
  @Column({ type: 'integer', default: 4 }) maxConcurrentTasks!: number;
  @Column({ type: 'text', array: true, default: () => "'{default}'" }) pools!: string[];
  @Column({ type: 'varchar', length: 255, nullable: true }) createdBy!: string | null;
  @Column({ type: 'timestamptz', nullable: true }) expiresAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) lastUsedAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  /** The worker that registered with this token most recently. */
  @Column({ type: 'uuid', nullable: true }) workerId!: string | null;
}
