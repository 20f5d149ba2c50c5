import { BadInputError } from '../../core/errors.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { StoreLocation } from '../store-location.js';
import type { QuotaStore } from '../quota-store.js';
import { parsePostgresUrl } from './config.js';
import { createPostgresStore } from './postgres-store.js';

export { createPostgresStore, type PostgresStore } from './postgres-store.js';
export { parsePostgresUrl, type PostgresOptions } from './config.js';
export { dropPostgresSchema, pingPostgres, terminatePostgresSessions } from './admin.js';

/** Entry point used by openStore; the pool connects lazily on first use. */
export async function openEngine(
  location: StoreLocation,
  policy: QuotaPolicy,
): Promise<QuotaStore> {
  if (location.engine !== 'postgres') {
    throw new BadInputError(`expected a postgres:// store, got ${location.engine}`, '--db');
  }
  return createPostgresStore(parsePostgresUrl(location.url), policy);
}
