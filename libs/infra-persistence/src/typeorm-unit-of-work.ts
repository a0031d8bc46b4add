import type { UnitOfWork } from '@agentfleet/domain';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs each unit of work in a READ COMMITTED transaction with repositories bound to it. The level is
 * each connection's default (set at connect by dataSourceOptions), not named here: TypeORM would send
 * it as a second statement (`SET TRANSACTION …`), one more round trip for every transaction.
 */
export class TypeormUnitOfWork<R> implements UnitOfWork<R> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bind: (em: EntityManager) => R,
  ) {}

  run<T>(work: (repos: R) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((em) => work(this.bind(em)));
  }
}
