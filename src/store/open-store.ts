import { isAbsolute, resolve } from 'node:path';
import { BadInputError } from '../core/errors.js';
import type { QuotaPolicy } from '../core/policy.js';
import type { QuotaStore } from './quota-store.js';

export type StoreLocation =
  | { engine: 'sqlite'; path: string; synchronous?: 'FULL' | 'NORMAL' }
  | { engine: 'postgres'; url: string }
  /** projectId '' means FIREBASE_PROJECT_ID or the key's project; query holds the engine's own options. */
  | { engine: 'firestore'; projectId: string; query?: string };

/** Where a store is, for people: the SQLite file, or the URL without its password. */
export function describeLocation(location: StoreLocation): string {
  switch (location.engine) {
    case 'sqlite':
      return location.path;
    case 'postgres': {
      try {
        const u = new URL(location.url);
        if (u.password) u.password = '';
        return u.toString();
      } catch {
        return 'postgres://…';
      }
    }
    case 'firestore':
      return `firestore://${location.projectId || '(project from the environment)'}`;
  }
}

/** Parses --db / QUOTACLOCK_DB / config.store. */
export function parseStoreUrl(url: string, cwd = process.cwd(), where = '--db'): StoreLocation {
  const value = url.trim();
  if (value === '') throw new BadInputError(`${where}: empty store URL`, where);
  if (/^postgres(ql)?:\/\//i.test(value)) return { engine: 'postgres', url: value };
  if (/^firestore:\/\//i.test(value)) {
    const [rest, query = ''] = value.slice('firestore://'.length).split('?', 2) as [
      string,
      string?,
    ];
    const projectId = rest.replace(/\/+$/, '');
    if (projectId !== '' && !/^[a-z0-9-]{1,64}$/i.test(projectId)) {
      throw new BadInputError(`${where}: expected firestore://<project-id>`, where);
    }
    return { engine: 'firestore', projectId, ...(query ? { query } : {}) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !/^sqlite:/i.test(value)) {
    throw new BadInputError(
      `${where}: unsupported store "${value.split(':')[0]}" (use sqlite:<path>, postgres://… or firestore://<project>)`,
      where,
    );
  }
  const [rawPath, query = ''] = value.replace(/^sqlite:(\/\/)?/i, '').split('?', 2) as [
    string,
    string?,
  ];
  const params = new URLSearchParams(query);
  let synchronous: 'FULL' | 'NORMAL' | undefined;
  for (const [k, v] of params) {
    if (k !== 'synchronous' || !/^(full|normal)$/i.test(v)) {
      throw new BadInputError(
        `${where}: unsupported SQLite option "${k}=${v}" (supported: synchronous=full|normal)`,
        where,
      );
    }
    synchronous = v.toUpperCase() as 'FULL' | 'NORMAL';
  }
  const path = rawPath === ':memory:' || isAbsolute(rawPath) ? rawPath : resolve(cwd, rawPath);
  return { engine: 'sqlite', path, ...(synchronous ? { synchronous } : {}) };
}

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
      const { SqliteStore } = await import('./sqlite/sqlite-store.js');
      return new SqliteStore(
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
      const mod = (await loadEngine(location.engine).catch(() => null)) as {
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
