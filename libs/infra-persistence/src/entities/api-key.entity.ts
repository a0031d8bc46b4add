import { TenantOwned } from './tenant-owned';
import { Check, Column, Entity, Index, JoinColumn, ManyToOne } from 'typeorm';
import { UserEntity } from './user.entity';

/** Union of the seeds' api_keys: prefix + SHA-256 hash, scopes, role, rate limit, expiry, last use. */
@Entity('api_keys')
@Check('CHK_api_keys_rate_limit', 'rate_limit_per_hour >= 0')
@Index(['organizationId', 'createdAt'])
export class ApiKeyEntity extends TenantOwned {
  @Column({ type: 'uuid', nullable: true }) userId!: string | null;
  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity | null;
  @Column({ type: 'varchar', length: 255 }) name!: string;
  @Column({ type: 'varchar', length: 12, unique: true }) prefix!: string;
  @Column({ type: 'varchar', length: 64, unique: true }) keyHash!: string;
  @Column({ type: 'varchar', length: 32 }) role!: string;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) scopes!: string[];
  @Column({ type: 'boolean', default: false }) instanceAdmin!: boolean;
  @Column({ type: 'integer', default: 0 }) rateLimitPerHour!: number;
  @Column({ type: 'timestamptz', nullable: true }) expiresAt!: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) lastUsedAt!: Date | null;
  @Column({ type: 'boolean', default: true }) isActive!: boolean;
  @Column({ type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  @Column({ type: 'uuid', nullable: true }) createdByKeyId!: string | null;
}
