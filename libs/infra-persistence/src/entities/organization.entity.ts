import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity('organizations')
export class OrganizationEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'varchar', length: 63, unique: true }) name!: string;
  @Column({ type: 'varchar', length: 255, nullable: true }) displayName!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) settings!: Record<string, unknown>;
  @Column({ type: 'boolean', default: true }) isActive!: boolean;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt!: Date;
}
