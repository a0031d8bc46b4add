import { TenantOwned } from './tenant-owned';
import { Column, Entity, Index } from 'typeorm';

/** An LLM engine the agent-runtime drives: provider, model and handler settings (credentials by reference). */
@Entity('execution_engines')
@Index(['organizationId', 'name'], { unique: true })
export class ExecutionEngineEntity extends TenantOwned {
  @Column({ type: 'varchar', length: 255 }) name!: string;
  @Column({ type: 'varchar', length: 64 }) type!: string;
  @Column({ type: 'varchar', length: 64, default: 'anthropic' }) provider!: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) handlerConfig!: Record<string, unknown>;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'boolean', default: false }) isDefault!: boolean;
  @Column({ type: 'boolean', default: true }) isActive!: boolean;
}
