import { QuotaClockError } from '../../core/errors.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { QuotaStore, StoreSubjects } from '../quota-store.js';
import {
  composeStore,
  guardedCall,
  guardedStream,
  roleMethod,
  type AnyMethod,
  type AsyncGuard,
  type StoreRoles,
} from '../shared/compose-store.js';
import { dropped } from '../shared/debug-log.js';
import { PgBackup } from './backup.js';
import { PgClose } from './close.js';
import type { PostgresOptions } from './config.js';
import { PgConsume } from './consume.js';
import { PgLease } from './lease.js';
import { PgLedger } from './ledger.js';
import { assertMigrated, migratePostgres } from './migrations.js';
import { PgMonitoring } from './monitoring.js';
import { PgDb, pgCode } from './pool.js';
import { PgService } from './service.js';
import { PgSubjects } from './subjects.js';
import { PgUsage } from './usage.js';

/** Errors the caller cannot act on by code become STORE_FAILURE; coded errors pass through. */
function mapError(e: unknown): unknown {
  if (e instanceof QuotaClockError) return e;
  const code = pgCode(e);
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    return new QuotaClockError(
      'STORE_FAILURE',
      `PostgreSQL error ${code}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return e;
}

/**
 * The methods that change subjects, and which subjects (undefined: any of
 * them). A change made through this store also drops those subjects from the
 * consume cache. (Changes from elsewhere are caught by the consume statement
 * itself; this only saves a wasted round trip.)
 */
type Changes = {
  readonly [K in keyof StoreSubjects | 'importRecords']?: (
    args: Parameters<QuotaStore[K]>,
  ) => string[] | undefined;
};
const CHANGES: Changes = {
  upsertSubjects: ([subjects]) => subjects.map((s) => s.id),
  setPlan: ([id]) => [id],
  setOverride: ([id]) => [id],
  suspend: ([id]) => [id],
  unsuspend: ([id]) => [id],
  updateSubject: ([id]) => [id],
  importRecords: () => undefined,
};

export type PostgresStore = QuotaStore & { readonly db: PgDb };

/**
 * The scale store: many processes and hosts write at once. Every consume is
 * one guarded statement; the job closes subjects with set-based conditional
 * updates, and sharded workers split subjects by a hash of their id.
 */
export function createPostgresStore(options: PostgresOptions, policy: QuotaPolicy): PostgresStore {
  const db = new PgDb(options);
  const subjects = new PgSubjects(db, policy);
  const consumer = new PgConsume(db, policy, subjects);
  const leases = new PgLease(db);
  const roles: StoreRoles = {
    subjects,
    usage: new PgUsage(db, policy, subjects, consumer),
    service: new PgService(db, subjects),
    leases,
    ledger: new PgLedger(db),
    closer: new PgClose(db, policy),
    backup: new PgBackup(db),
    monitoring: new PgMonitoring(db, policy, subjects),
  };

  /** The schema version is checked once, on first use (migrate may be about to create it). */
  let ready: Promise<void> | undefined;
  const guard: AsyncGuard = {
    mapError,
    ready: () => {
      if (!ready) {
        ready = assertMigrated(db);
        // The caller awaiting it reports the failure; forgetting it lets the next call check again.
        ready.catch((e: unknown) => {
          dropped('the schema check', 'the caller awaiting it gets the error')(e);
          ready = undefined;
        });
      }
      return ready;
    },
  };

  const changing =
    (method: AnyMethod, changed: (args: never) => string[] | undefined) =>
    async (...a: unknown[]) => {
      try {
        return await method(...a);
      } finally {
        consumer.forget(changed(a as never));
      }
    };

  const base = {
    engine: 'postgres',
    capabilities: {
      multiWriter: true,
      shardedClose: true,
      preResetExport: false,
      leaseLiveness: 'session',
    },
    db,
    migrate: async () => {
      try {
        const out = await migratePostgres(db);
        ready = Promise.resolve();
        return out;
      } catch (e) {
        throw mapError(e);
      }
    },
    close: async () => {
      await leases.end();
      await db.end();
    },
  } as const;

  return composeStore(base, (role, name, kind) => {
    const method = roleMethod(roles[role], name);
    if (kind === 'stream') return guardedStream(method, guard);
    const changed = CHANGES[name as keyof Changes];
    const guarded = guardedCall(method, guard);
    return changed ? changing(guarded, changed) : guarded;
  });
}
