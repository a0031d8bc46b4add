import { TenantOwned } from './tenant-owned';
import { Column, Entity, Index } from 'typeorm';

/**
 * An organization secret that job env values reference by name. The value is sealed by the SecretBox
 * (AES-256-GCM, key id inside the sealed form) and never leaves the control plane except towards the
 * worker starting a job that references it.
 */
@Entity('secrets')
@Index(['organizationId', 'name'], { unique: true })
export class SecretEntity extends TenantOwned {
  @Column({ type: 'varchar', length: 128 }) name!: string;
  @Column({ type: 'text' }) valueSealed!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'uuid', nullable: true }) createdByApiKeyId!: string | null;
  @Column({ type: 'uuid', nullable: true }) createdByUserId!: string | null;
  @Column({ type: 'uuid', nullable: true }) updatedByApiKeyId!: string | null;
  @Column({ type: 'uuid', nullable: true }) updatedByUserId!: string | null;
}
