import type { BackupRecord, StoreBackup } from '../quota-store.js';
import type { Synchronous } from '../shared/compose-store.js';
import {
  RECORD_OF,
  VALUES_OF,
  assertRestoreTargetEmpty,
  isBackupType,
  restoredRids,
  unknownRecordType,
  type BackupType,
} from '../backup-mapping.js';
import type { Db } from './connection.js';

/** Every table, in restore order, with the query that reads it for a backup. */
const EXPORTS: ReadonlyArray<[BackupType, string]> = [
  ['subject', 'SELECT * FROM subjects ORDER BY rid'],
  [
    'counter',
    'SELECT s.id AS subject, c.* FROM counters c JOIN subjects s ON s.rid = c.subject_rid ORDER BY s.rid, c.period_start_ms, c.feature',
  ],
  [
    'event',
    'SELECT s.id AS subject, e.* FROM events e JOIN subjects s ON s.rid = e.subject_rid ORDER BY e.id',
  ],
  [
    'closed_period',
    'SELECT s.id AS subject, p.* FROM closed_periods p JOIN subjects s ON s.rid = p.subject_rid ORDER BY s.rid, p.start_ms',
  ],
  ['run', 'SELECT * FROM runs ORDER BY key'],
  ['audit', 'SELECT * FROM audit ORDER BY id'],
];

/** The INSERT of each record type, with columns in the order of VALUES_OF. */
const INSERTS: Readonly<Record<BackupType, string>> = {
  subject: `INSERT INTO subjects (id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rid`,
  counter:
    'INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used) VALUES (?, ?, ?, ?, ?, ?)',
  event: `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  closed_period:
    'INSERT INTO closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
  run: `INSERT INTO runs (key, status, started_ms, finished_ms, attempts, holder, period_start_ms, period_end_ms, checkpoint, error)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  audit:
    'INSERT INTO audit (at_ms, action, subject, detail, actor, before_json, after_json, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
};

/** Streams every table as engine-neutral records: ids instead of rowids, ISO instants. */
function* exportSqlite(db: Db): Generator<BackupRecord> {
  for (const [type, sql] of EXPORTS) {
    for (const r of db.prepare(sql).iterate() as Iterable<Record<string, unknown>>)
      yield RECORD_OF[type](r);
  }
}

/** Loads validated records in one transaction; the target must be empty. */
function importSqlite(db: Db, records: readonly BackupRecord[]): { records: number } {
  return db
    .transaction(() => {
      const count = (db.prepare('SELECT COUNT(*) AS n FROM subjects').get() as { n: number }).n;
      const runs = (db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
      assertRestoreTargetEmpty(count, runs);
      const rids = restoredRids();
      const insert = new Map<BackupType, ReturnType<Db['prepare']>>();
      for (const r of records) {
        if (!isBackupType(r.type)) throw unknownRecordType(r.type);
        let stmt = insert.get(r.type);
        if (!stmt) {
          stmt = db.prepare(INSERTS[r.type]);
          insert.set(r.type, stmt);
        }
        // SQLite binds no booleans: suspended is stored as 0/1.
        const values: unknown[] = VALUES_OF[r.type](r, rids.ridOf).map((v) =>
          typeof v === 'boolean' ? Number(v) : v,
        );
        if (r.type === 'subject') rids.set(r.id, (stmt.get(values) as { rid: number }).rid);
        else stmt.run(values);
      }
      return { records: records.length };
    })
    .immediate();
}

/** The backup role: engine-neutral records out, and into an empty store. */
export class SqliteBackup implements Synchronous<StoreBackup> {
  constructor(private readonly db: Db) {}

  exportRecords(): Generator<BackupRecord> {
    return exportSqlite(this.db);
  }

  importRecords(records: readonly BackupRecord[]): { records: number } {
    return importSqlite(this.db, records);
  }
}
