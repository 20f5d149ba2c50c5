import type { QuotaPolicy } from '../../core/policy.js';
import type { QuotaStore } from '../quota-store.js';
import {
  composeStore,
  roleMethod,
  type AnyMethod,
  type StoreRoles,
  type Synchronous,
} from '../shared/compose-store.js';
import { SqliteBackup } from './backup.js';
import { SqliteClose } from './close.js';
import {
  assertMigrated,
  migrate,
  openSqlite,
  schemaVersion,
  type Db,
  type SqliteOptions,
} from './connection.js';
import { SqliteLeases } from './lease.js';
import { SqliteLedger } from './ledger.js';
import { SQLITE_SCHEMA_VERSION } from './migrations.js';
import { SqliteMonitoring } from './monitoring.js';
import { SqliteService } from './service.js';
import { SqliteSubjects } from './subjects.js';
import { SqliteUsage } from './usage.js';

type SqliteRoles = { readonly [R in keyof StoreRoles]: Synchronous<StoreRoles[R]> };

export type SqliteStore = QuotaStore & { readonly db: Db };

/**
 * The default embedded store. better-sqlite3 is synchronous; every operation
 * that writes runs in one IMMEDIATE transaction, which takes SQLite's single
 * write lock up front, so check-and-write can never interleave across
 * processes. The roles answer synchronously; the store's methods return
 * their results (and throws) as promises.
 */
export function createSqliteStore(options: SqliteOptions, policy: QuotaPolicy): SqliteStore {
  const db = openSqlite(options);

  /** The schema is current, or is made current here when the store was opened with autoMigrate. */
  const assertReady = (): void => {
    if (options.autoMigrate && schemaVersion(db) < SQLITE_SCHEMA_VERSION) migrate(db);
    assertMigrated(db, options.path);
  };

  /** Statements are prepared lazily: they need the schema, which `migrate` may be about to create. */
  let roles: SqliteRoles | undefined;
  const rolesNow = (): SqliteRoles => {
    if (!roles) {
      assertReady();
      const subjects = new SqliteSubjects(db, policy);
      roles = {
        subjects,
        usage: new SqliteUsage(db, policy, subjects),
        service: new SqliteService(db, subjects),
        leases: new SqliteLeases(db),
        ledger: new SqliteLedger(db),
        closer: new SqliteClose(db, policy),
        backup: new SqliteBackup(db),
        monitoring: new SqliteMonitoring(db, policy, subjects),
      };
    }
    return roles;
  };

  const base = {
    engine: 'sqlite',
    capabilities: {
      multiWriter: false,
      shardedClose: false,
      preResetExport: false,
      leaseLiveness: 'process',
    },
    db,
    migrate: async () => migrate(db),
    close: async () => {
      if (db.open) db.close();
    },
  } as const;

  return composeStore(base, (role, name, kind) => {
    // Bound on first use, once the roles exist; a throw becomes the promise's rejection.
    let method: AnyMethod | undefined;
    const bound = () => (method ??= roleMethod(rolesNow()[role], name));
    if (kind === 'stream') {
      return async function* (...a: unknown[]) {
        yield* bound()(...a) as Iterable<unknown>;
      };
    }
    return async (...a: unknown[]) => bound()(...a);
  });
}
