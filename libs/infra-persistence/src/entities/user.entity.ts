import { TenantOwned } from './tenant-owned';
import { Column, Entity, Index } from 'typeorm';

@Entity('users')
@Index(['organizationId', 'email'], { unique: true })
@Index(['organizationId', 'externalId'], { unique: true, where: 'external_id IS NOT NULL' })
export class UserEntity extends TenantOwned {
  @Column({ type: 'varchar', length: 255, nullable: true }) externalId!: string | null;
  @Column({ type: 'varchar', length: 255 }) email!: string;
  @Column({ type: 'varchar', length: 255, nullable: true }) name!: string | null;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) roles!: string[];
  @Column({ type: 'text', array: true, default: () => "'{}'" }) permissions!: string[];
  @Column({ type: 'varchar', length: 50, default: 'local' }) authProvider!: string;
  @Column({ type: 'boolean', default: false }) emailVerified!: boolean;
  @Column({ type: 'boolean', default: true }) isActive!: boolean;
  @Column({ type: 'timestamptz', nullable: true }) lastLoginAt!: Date | null;
}
