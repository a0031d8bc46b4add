import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Every accepted event of a job, keyed by its Redis stream id: the history behind SSE resume (after the
 * capped stream has trimmed it) and the job's logs. Unique (job_id, stream_id) makes persisting idempotent.
 */
@Entity('execution_job_events')
@Index(['jobId', 'streamId'], { unique: true })
@Index(['organizationId', 'jobId', 'id'])
export class ExecutionJobEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Column({ type: 'uuid' }) jobId!: string;
  @Column({ type: 'uuid' }) organizationId!: string;
  @Column({ type: 'integer' }) attempt!: number;
  @Column({ type: 'varchar', length: 32 }) streamId!: string;
  @Column({ type: 'varchar', length: 32 }) type!: string;
  @Column({ type: 'jsonb' }) data!: Record<string, unknown>;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
}
