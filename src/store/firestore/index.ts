import { BadInputError } from '../../core/errors.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { StoreLocation } from '../store-location.js';
import type { QuotaStore } from '../quota-store.js';
import { resolveFirestoreOptions } from './config.js';
import { createFirestoreStore } from './firestore-store.js';

export { createFirestoreStore, type FirestoreStore } from './firestore-store.js';
export { resolveFirestoreOptions, readServiceAccountKey, type FirestoreOptions } from './config.js';
export { EXPORT_FORMAT as FIRESTORE_EXPORT_FORMAT } from './pre-reset-export.js';

/** Entry point used by openStore; the client connects lazily on first use. */
export async function openEngine(
  location: StoreLocation,
  policy: QuotaPolicy,
  clock?: () => number,
): Promise<QuotaStore> {
  if (location.engine !== 'firestore') {
    throw new BadInputError(`expected a firestore:// store, got ${location.engine}`, '--db');
  }
  return createFirestoreStore(resolveFirestoreOptions(location), policy, clock);
}
