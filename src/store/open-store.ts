import { BadInputError } from '../core/errors.js';
import type { QuotaPolicy } from '../core/policy.js';
import type { QuotaStore } from './quota-store.js';
import type { StoreLocation } from './store-location.js';
import { dropped } from './shared/debug-log.js';

export { describeLocation, parseStoreUrl, type StoreLocation } from './store-location.js';

export interface OpenStoreOptions {
  /**
   * Whether opening may create the store. true (the default): an embedded
   * SQLite file is created, and its schema applied, on first use, as
   * embedded databases do. false: the store must exist (a missing SQLite file
   * is STORE_NOT_FOUND, nothing is created) and its schema is only checked.
   * Server engines (PostgreSQL, Firestore) never create their database and
   * are migrated by `init` only.
   */
  readonly create?: boolean;
  /** The caller's clock, for engines whose reads depend on the time (Firestore). */
  readonly clock?: () => number;
}

/** Opens a store; engines are imported lazily so that SQLite users never load a Postgres driver. */
export async function openStore(
  location: StoreLocation,
  policy: QuotaPolicy,
  opts: OpenStoreOptions = {},
): Promise<QuotaStore> {
  const create = opts.create ?? true;
  switch (location.engine) {
    case 'sqlite': {
      const { createSqliteStore } = await import('./sqlite/sqlite-store.js');
      return createSqliteStore(
        {
          path: location.path,
          ...(location.synchronous ? { synchronous: location.synchronous } : {}),
          create,
          autoMigrate: create,
        },
        policy,
      );
    }
    case 'postgres':
    case 'firestore': {
      // A build without the engine (its driver not installed) fails to import it: said below.
      const mod = (await loadEngine(location.engine).catch(
        (e: unknown) =>
          dropped(`loading the ${location.engine} engine`, 'reported as not available')(e) ?? null,
      )) as {
        openEngine?: (
          l: StoreLocation,
          p: QuotaPolicy,
          clock?: () => number,
        ) => Promise<QuotaStore>;
      } | null;
      if (!mod?.openEngine) {
        throw new BadInputError(
          `the ${location.engine} store is not available in this build`,
          '--db',
        );
      }
      return mod.openEngine(location, policy, opts.clock);
    }
  }
}

/**
 * A static specifier where the engine exists, so that test runners and
 * bundlers resolve it (a template import is only resolved by plain Node).
 */
function loadEngine(engine: 'postgres' | 'firestore'): Promise<unknown> {
  if (engine === 'postgres') return import('./postgres/index.js');
  return import('./firestore/index.js');
}
