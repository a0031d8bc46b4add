import { TenantOwned } from './tenant-owned';
import { Column, Entity, Index } from 'typeorm';

/** Minimal for now: execution jobs may point to a run; the supervision issue fills it in. */
@Entity('supervisor_runs')
@Index(['organizationId', 'createdAt'])
export class SupervisorRunEntity extends TenantOwned {
  @Column({ type: 'uuid', nullable: true }) teamId!: string | null;
  @Column({ type: 'varchar', length: 255, nullable: true }) sessionId!: string | null;
  @Column({ type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ type: 'text' }) userMessage!: string;
  @Column({ type: 'jsonb', nullable: true }) supervisorResponse!: Record<string, unknown> | null;
  @Column({ type: 'varchar', length: 255, nullable: true }) workerAgentId!: string | null;
  @Column({ type: 'varchar', length: 255, nullable: true }) executionEngine!: string | null;
  @Column({ type: 'varchar', length: 32, default: 'pending' }) status!: string;
  @Column({ type: 'text', nullable: true }) executionOutput!: string | null;
  @Column({ type: 'timestamptz', nullable: true }) completedAt!: Date | null;
}
