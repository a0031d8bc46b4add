import { TenantOwned } from './tenant-owned';
import { Check, Column, Entity, Index } from 'typeorm';

/** Where execution jobs run: a Docker host, a Kubernetes cluster or local processes, serving one worker pool. */
@Entity('execution_targets')
@Index(['organizationId', 'name'], { unique: true })
@Index(['organizationId', 'workerPool'])
@Check('CHK_execution_targets_type', "type IN ('docker', 'kubernetes', 'process')")
export class ExecutionTargetEntity extends TenantOwned {
  @Column({ type: 'varchar', length: 255 }) name!: string;
  @Column({ type: 'varchar', length: 16 }) type!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) connectionConfig!: Record<string, unknown>;
  @Column({ type: 'jsonb', default: () => "'{}'" }) capacity!: Record<string, unknown>;
  @Column({ type: 'varchar', length: 63, default: 'default' }) workerPool!: string;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) allowedImages!: string[];
  @Column({ type: 'varchar', length: 512 }) defaultImage!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) breakerOptions!: Record<string, unknown>;
  @Column({ type: 'boolean', default: true }) isActive!: boolean;
}
