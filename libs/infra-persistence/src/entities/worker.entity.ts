import { TenantOwned } from './tenant-owned';
import { Check, Column, Entity, Index, JoinColumn, ManyToOne } from 'typeorm';
import { WorkerTokenEntity } from './worker-token.entity';

/** A registered worker instance; liveness in `status`, the operator's wish in `scheduling`. */
@Entity('workers')
@Index(['tokenId', 'instanceId'], { unique: true })
@Index(['organizationId', 'status'])
@Index(['status'])
@Check('CHK_workers_status', "status IN ('online', 'lost', 'offline')")
@Check('CHK_workers_scheduling', "scheduling IN ('active', 'cordoned', 'draining')")
export class WorkerEntity extends TenantOwned {
  @Column({ type: 'uuid' }) tokenId!: string;
  @ManyToOne(() => WorkerTokenEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'token_id' })
  token?: WorkerTokenEntity;
  @Column({ type: 'varchar', length: 255 }) instanceId!: string;
  @Column({ type: 'varchar', length: 255 }) hostname!: string;
  @Column({ type: 'varchar', length: 64 }) version!: string;
  @Column({ type: 'integer' }) protocolVersion!: number;
  @Column({ type: 'jsonb', default: () => "'{}'" }) labels!: Record<string, string>;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) capabilities!: string[];
  @Column({ type: 'text', array: true, default: () => "'{}'" }) pools!: string[];
  @Column({ type: 'jsonb', default: () => "'{}'" }) capacity!: Record<string, unknown>;
  @Column({ type: 'integer' }) concurrency!: number;
  @Column({ type: 'varchar', length: 16 }) status!: string;
  @Column({ type: 'varchar', length: 16, default: 'active' }) scheduling!: string;
  @Column({ type: 'timestamptz' }) registeredAt!: Date;
  @Column({ type: 'timestamptz', nullable: true }) lastSeenAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) lostAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) offlineAt!: Date | null;
}
