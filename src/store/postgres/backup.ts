import type { BackupRecord, StoreBackup } from '../quota-store.js';
import {
  RECORD_OF,
  VALUES_OF,
  assertRestoreTargetEmpty,
  isBackupType,
  restoredRids,
  unknownRecordType,
  type BackupType,
} from '../backup-mapping.js';
import type { Client, PgDb } from './pool.js';
import { dropped } from '../shared/debug-log.js';

const FETCH = 2000;

type Row = Record<string, unknown>;

/** Streams one query through a server-side cursor, so memory stays flat on large stores. */
async function* cursorRows(c: Client, sql: string): AsyncGenerator<Row> {
  await c.query(`DECLARE qc_export NO SCROLL CURSOR FOR ${sql}`);
  for (;;) {
    const res = await c.query<Row>(`FETCH ${FETCH} FROM qc_export`);
    if (res.rows.length === 0) break;
    yield* res.rows;
  }
  await c.query('CLOSE qc_export');
}

/** Every table, in restore order, with the query that reads it for a backup. */
const exportQueries = (s: string): ReadonlyArray<[BackupType, string]> => [
  ['subject', `SELECT * FROM ${s}.subjects ORDER BY rid`],
  [
    'counter',
    `SELECT s.id AS subject, c.* FROM ${s}.counters c JOIN ${s}.subjects s ON s.rid = c.subject_rid
     ORDER BY s.rid, c.period_start_ms, c.feature`,
  ],
  [
    'event',
    `SELECT s.id AS subject, e.* FROM ${s}.events e JOIN ${s}.subjects s ON s.rid = e.subject_rid ORDER BY e.id`,
  ],
  [
    'closed_period',
    `SELECT s.id AS subject, p.* FROM ${s}.closed_periods p JOIN ${s}.subjects s ON s.rid = p.subject_rid
     ORDER BY s.rid, p.start_ms`,
  ],
  ['run', `SELECT * FROM ${s}.runs ORDER BY key`],
  ['audit', `SELECT * FROM ${s}.audit ORDER BY id`],
];

/**
 * Streams every table as the same engine-neutral records as the SQLite
 * store (ids instead of rowids, ISO instants, parsed JSON), all read from one
 * REPEATABLE READ snapshot.
 */
async function* exportPostgres(db: PgDb): AsyncGenerator<BackupRecord> {
  const s = db.s;
  const c = await db.checkout();
  let broken = false;
  let done = false;
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The reader may pause between pages (a slow disk, a network upload); give it ten minutes, not one.
    await c.query(`SET LOCAL idle_in_transaction_session_timeout = '10min'`);
    for (const [type, sql] of exportQueries(s)) {
      for await (const r of cursorRows(c, sql)) yield RECORD_OF[type](r);
    }
    await c.query('COMMIT');
    done = true;
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    // Also reached when the consumer stops early: the read-only transaction is simply dropped.
    if (!broken && !done) {
      await c.query('ROLLBACK').catch((e: unknown) => {
        // The connection is released as broken, so the pool never reuses it.
        dropped('ROLLBACK of the export snapshot', 'the connection is discarded')(e);
        broken = true;
      });
    }
    c.release(broken || undefined);
  }
}

/** The set-based INSERT of each record type (unnest of one array per column, in the order of VALUES_OF). */
const INSERTS: Readonly<Record<BackupType, (s: string) => string>> = {
  subject: (s) => `INSERT INTO ${s}.subjects
    (id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
  SELECT id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key
  FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[])
    WITH ORDINALITY AS u(id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key, ord)
  ORDER BY ord
  RETURNING id, rid`,
  counter: (
    s,
  ) => `INSERT INTO ${s}.counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])`,
  event: (
    s,
  ) => `INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
      SELECT subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[])
        WITH ORDINALITY AS u(subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, ord)
      ORDER BY ord`,
  closed_period: (
    s,
  ) => `INSERT INTO ${s}.closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[])`,
  run: (
    s,
  ) => `INSERT INTO ${s}.runs (key, status, started_ms, finished_ms, attempts, holder, period_start_ms, period_end_ms, checkpoint, error)
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[])`,
  audit: (
    s,
  ) => `INSERT INTO ${s}.audit (at_ms, action, subject, detail, actor, before_json, after_json, reason)
      SELECT at_ms, action, subject, detail, actor, before_json, after_json, reason
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
        WITH ORDINALITY AS u(at_ms, action, subject, detail, actor, before_json, after_json, reason, ord) ORDER BY ord`,
};

const CHUNK = 2000;

/** Transposes rows into one array per column, for unnest. */
function columns(rows: unknown[][]): unknown[][] {
  const width = rows[0]?.length ?? 0;
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const r of rows) r.forEach((v, i) => out[i]!.push(v));
  return out;
}

/** Loads validated records in one transaction, in record order; the target must be empty. */
function importPostgres(db: PgDb, records: readonly BackupRecord[]): Promise<{ records: number }> {
  const s = db.s;
  return db.tx(
    async (c) => {
      const n = await c.query<{ subjects: number; runs: number }>(
        `SELECT (SELECT COUNT(*) FROM ${s}.subjects) AS subjects, (SELECT COUNT(*) FROM ${s}.runs) AS runs`,
      );
      assertRestoreTargetEmpty(n.rows[0]!.subjects, n.rows[0]!.runs);
      const rids = restoredRids();
      let type: BackupType | null = null;
      let buffer: unknown[][] = [];
      const flush = async () => {
        if (type === null || buffer.length === 0) return;
        const values = columns(buffer);
        buffer = [];
        const res = await c.query<{ id: string; rid: number }>(INSERTS[type](s), values);
        if (type === 'subject') for (const r of res.rows) rids.set(r.id, r.rid);
      };
      for (const r of records) {
        if (!isBackupType(r.type)) throw unknownRecordType(r.type);
        if (r.type !== type || buffer.length >= CHUNK) {
          await flush();
          type = r.type;
        }
        buffer.push(VALUES_OF[r.type](r, rids.ridOf));
      }
      await flush();
      return { records: records.length };
    },
    { idempotent: false },
  );
}

/** The backup role: engine-neutral records out, and into an empty store. */
export class PgBackup implements StoreBackup {
  constructor(private readonly db: PgDb) {}

  exportRecords(): AsyncGenerator<BackupRecord> {
    return exportPostgres(this.db);
  }

  importRecords(records: readonly BackupRecord[]): Promise<{ records: number }> {
    return importPostgres(this.db, records);
  }
}
