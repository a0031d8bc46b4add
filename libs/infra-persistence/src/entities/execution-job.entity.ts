import { TenantOwned } from './tenant-owned';
import { Check, Column, Entity, Index, JoinColumn, ManyToOne } from 'typeorm';
import { SupervisorRunEntity } from './supervisor-run.entity';
import { ExecutionTargetEntity } from './execution-target.entity';

/** One execution job (seed 001's columns plus attempt fencing, OOM evidence, limits and cost). */
@Entity('execution_jobs')
@Index(['organizationId', 'createdAt'])
@Index(['organizationId', 'status'])
@Index(['status', 'timeoutAt'])
@Index(['workerId'], { where: "status IN ('running', 'awaiting_approval')" })
@Index(['organizationId', 'idempotencyKey'], { unique: true, where: 'idempotency_key IS NOT NULL' })
@Check(
  'CHK_execution_jobs_status',
  "status IN ('queued', 'running', 'awaiting_approval', 'completed', 'failed', 'oom', 'failed_circuit_open', 'timed_out', 'cancelled')",
)
@Check('CHK_execution_jobs_attempt', 'attempt >= 1')
export class ExecutionJobEntity extends TenantOwned {
  @Column({ type: 'uuid', nullable: true }) supervisorRunId!: string | null;
  @ManyToOne(() => SupervisorRunEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'supervisor_run_id' })
  supervisorRun?: SupervisorRunEntity | null;
  @Column({ type: 'uuid', nullable: true }) targetId!: string | null;
  @ManyToOne(() => ExecutionTargetEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'target_id' })
  target?: ExecutionTargetEntity | null;
  @Column({ type: 'uuid', nullable: true }) engineId!: string | null;
  @Column({ type: 'varchar', length: 63 }) pool!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) workerConfig!: Record<string, unknown>;
  @Column({ type: 'jsonb', default: () => "'{}'" }) executionTarget!: Record<string, unknown>;
  @Column({ type: 'varchar', length: 512 }) image!: string;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) command!: string[];
  @Column({ type: 'text', nullable: true }) prompt!: string | null;
  /** Plain values and secret references (`{ "secret": name }`); a secret's value is never stored here. */
  @Column({ type: 'jsonb', default: () => "'{}'" }) env!: Record<string, string | { secret: string }>;
  @Column({ type: 'varchar', length: 32 }) status!: string;
  @Column({ type: 'integer', default: 1 }) attempt!: number;
  @Column({ type: 'real', default: 0 }) progress!: number;
  @Column({ type: 'jsonb', nullable: true }) result!: unknown;
  @Column({ type: 'varchar', length: 255, nullable: true }) containerId!: string | null;
  @Column({ type: 'varchar', length: 255, nullable: true }) targetHost!: string | null;
  @Column({ type: 'uuid', nullable: true }) workerId!: string | null;
  @Column({ type: 'integer', default: 0 }) retryCount!: number;
  @Column({ type: 'integer', default: 0 }) maxRetries!: number;
  @Column({ type: 'integer', default: 1000 }) retryBackoffMs!: number;
  @Column({ type: 'boolean', default: false }) oomRetryEnabled!: boolean;
  @Column({ type: 'integer', nullable: true }) oomRetryMaxMemoryMb!: number | null;
  @Column({ type: 'boolean', default: false }) oomRetried!: boolean;
  @Column({ type: 'integer' }) memoryLimitMb!: number;
  @Column({ type: 'real' }) cpu!: number;
  @Column({ type: 'integer' }) pidsLimit!: number;
  @Column({ type: 'integer' }) timeoutSeconds!: number;
  @Column({ type: 'boolean', default: false }) network!: boolean;
  @Column({ type: 'integer', default: 100 }) priority!: number;
  @Column({ type: 'varchar', length: 255, nullable: true }) idempotencyKey!: string | null;
  @Column({ type: 'integer', nullable: true }) exitCode!: number | null;
  @Column({ type: 'jsonb', nullable: true }) oomEvidence!: Record<string, unknown> | null;
  @Column({ type: 'real', nullable: true }) peakMemoryMb!: number | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ type: 'text', nullable: true }) lastFailureReason!: string | null;
  @Column({ type: 'integer', default: 0 }) promptTokens!: number;
  @Column({ type: 'integer', default: 0 }) completionTokens!: number;
  @Column({ type: 'numeric', precision: 14, scale: 6, default: 0 }) costUsd!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) metadata!: Record<string, unknown>;
  @Column({ type: 'timestamptz' }) queuedAt!: Date;
  @Column({ type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) timeoutAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) cancelRequestedAt!: Date | null;
}
