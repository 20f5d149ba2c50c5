import type { Firestore } from '@google-cloud/firestore';
import type { QuotaPolicy } from '../../core/policy.js';
import type { QuotaStore } from '../quota-store.js';
import {
  composeStore,
  guardedCall,
  guardedStream,
  roleMethod,
  type AsyncGuard,
  type StoreRoles,
} from '../shared/compose-store.js';
import { dropped } from '../shared/debug-log.js';
import { FsBackup } from './backup.js';
import { createFirestore, mapFirestoreError } from './client.js';
import { FsCloser } from './close-batch.js';
import type { FirestoreOptions } from './config.js';
import { FsContext } from './context.js';
import { FsLease } from './lease.js';
import { FsLedger } from './ledger.js';
import { migrateFirestore } from './migrate.js';
import { FsMonitoring } from './monitoring.js';
import { FsOpenPeriods } from './open-periods.js';
import { FsService } from './service.js';
import { FsSubjects } from './subjects.js';
import { FsUsage } from './usage.js';

export type FirestoreStore = QuotaStore & {
  readonly db: Firestore;
  readonly options: FirestoreOptions;
};

/** Every call maps driver errors to coded ones (and never echoes credentials). */
const guard: AsyncGuard = { mapError: mapFirestoreError };

/**
 * The earlier system's Firestore layout (userQuotas/{uid} and its
 * usage_history), read and written in place. Every change to a subject is one
 * Firestore transaction on its document; the reset job closes subjects with
 * the BulkWriter, each write conditional on the version it read. Many
 * processes and hosts may write at once.
 */
export function createFirestoreStore(
  options: FirestoreOptions,
  policy: QuotaPolicy,
  clock: () => number = Date.now,
): FirestoreStore {
  const db = createFirestore(options);
  const ctx = new FsContext(db, policy, clock);
  const ledger = new FsLedger(ctx, options);
  const monitoring = new FsMonitoring(ctx);
  const roles: StoreRoles = {
    subjects: new FsSubjects(ctx),
    usage: new FsUsage(ctx),
    service: new FsService(ctx),
    leases: new FsLease(ctx),
    ledger,
    closer: new FsCloser(ctx, new FsOpenPeriods(ctx), ledger, monitoring, options.bulkOpsPerSecond),
    backup: new FsBackup(ctx),
    monitoring,
  };
  const base = {
    engine: 'firestore',
    capabilities: {
      multiWriter: true,
      shardedClose: false,
      preResetExport: true,
      leaseLiveness: 'process',
    },
    db,
    options,
    migrate: guardedCall(() => migrateFirestore(ctx), guard) as QuotaStore['migrate'],
    close: async () => {
      await db
        .terminate()
        .catch(dropped('closing the Firestore client', 'it is discarded and holds no writes'));
    },
  } as const;
  return composeStore(base, (role, name, kind) => {
    const method = roleMethod(roles[role], name);
    return kind === 'stream' ? guardedStream(method, guard) : guardedCall(method, guard);
  });
}
