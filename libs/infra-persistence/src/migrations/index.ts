import { InitialSchema1795523014474 } from './1795523014474-initial-schema';
import { UpdatedAtTriggers1795523014475 } from './1795523014475-updated-at-triggers';

/** Every migration, in order. A new one is appended here after `npm run migration:generate`. */
export const MIGRATIONS = [InitialSchema1795523014474, UpdatedAtTriggers1795523014475];
