import { existsSync } from 'node:fs';
import { parseStoreUrl } from '../store/open-store.js';

/**
 * The SQLite file that opening this store would create, or undefined when
 * there is nothing to create: the file exists, it is in memory, or the store
 * is a server's (PostgreSQL and Firestore are never created by opening).
 */
export function sqliteFileToCreate(storeUrl: string): string | undefined {
  const location = parseStoreUrl(storeUrl, process.cwd(), 'store');
  if (location.engine !== 'sqlite' || location.path === ':memory:') return undefined;
  return existsSync(location.path) ? undefined : location.path;
}
