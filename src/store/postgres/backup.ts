import { BadInputError } from '../../core/errors.js';
import { toIso } from '../../core/period.js';
import type { BackupRecord } from '../quota-store.js';
import type { Client, PgDb } from './pool.js';

const iso = (ms: number | null) => (ms === null ? null : toIso(ms));
const ms = (v: unknown) => (v === null || v === undefined ? null : Date.parse(String(v)));
const json = (text: string | null) => (text === null ? null : (JSON.parse(text) as unknown));
const text = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

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

/**
 * Streams every table as the same engine-neutral records as the SQLite
 * store (ids instead of rowids, ISO instants, parsed JSON), all read from one
 * REPEATABLE READ snapshot.
 */
export async function* exportPostgres(db: PgDb): AsyncGenerator<BackupRecord> {
  const s = db.s;
  const c = await db.checkout();
  let broken = false;
  let done = false;
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The reader may pause between pages (a slow disk, a network upload); give it ten minutes, not one.
    await c.query(`SET LOCAL idle_in_transaction_session_timeout = '10min'`);
    for await (const r of cursorRows(c, `SELECT * FROM ${s}.subjects ORDER BY rid`)) {
      yield {
        type: 'subject',
        id: r.id,
        plan: r.plan,
        overrides: json(r.overrides as string),
        suspended: r.suspended === true,
        suspendedReason: r.suspended_reason,
        timeZone: r.time_zone,
        anchor: iso(r.anchor_ms as number),
        email: r.email,
        name: r.name,
        createdAt: iso(r.created_ms as number),
        closedThrough: iso(r.closed_through_ms as number),
        openEnd: iso(r.open_end_ms as number),
        openKey: r.open_key,
      };
    }
    for await (const r of cursorRows(
      c,
      `SELECT s.id AS subject, c.* FROM ${s}.counters c JOIN ${s}.subjects s ON s.rid = c.subject_rid
       ORDER BY s.rid, c.period_start_ms, c.feature`,
    )) {
      yield {
        type: 'counter',
        subject: r.subject,
        feature: r.feature,
        periodStart: iso(r.period_start_ms as number),
        periodEnd: iso(r.period_end_ms as number),
        periodKey: r.period_key,
        used: r.used,
      };
    }
    for await (const r of cursorRows(
      c,
      `SELECT s.id AS subject, e.* FROM ${s}.events e JOIN ${s}.subjects s ON s.rid = e.subject_rid ORDER BY e.id`,
    )) {
      yield {
        type: 'event',
        subject: r.subject,
        kind: r.kind,
        feature: r.feature,
        periodStart: iso(r.period_start_ms as number),
        periodEnd: iso(r.period_end_ms as number),
        at: iso(r.at_ms as number),
        amount: r.amount,
        delta: r.delta,
        usedAfter: r.used_after,
        limit: r.limit_at,
        key: r.idem_key,
        outcome: json(r.outcome as string | null),
        meta: json(r.meta as string | null),
      };
    }
    for await (const r of cursorRows(
      c,
      `SELECT s.id AS subject, p.* FROM ${s}.closed_periods p JOIN ${s}.subjects s ON s.rid = p.subject_rid
       ORDER BY s.rid, p.start_ms`,
    )) {
      yield {
        type: 'closed_period',
        subject: r.subject,
        start: iso(r.start_ms as number),
        end: iso(r.end_ms as number),
        key: r.period_key,
        plan: r.plan,
        limits: json(r.limits as string),
        closedAt: iso(r.closed_ms as number),
      };
    }
    for await (const r of cursorRows(c, `SELECT * FROM ${s}.runs ORDER BY key`)) {
      yield {
        type: 'run',
        key: r.key,
        status: r.status,
        startedAt: iso(r.started_ms as number),
        finishedAt: iso(r.finished_ms as number | null),
        attempts: r.attempts,
        holder: r.holder,
        periodStart: iso(r.period_start_ms as number | null),
        periodEnd: iso(r.period_end_ms as number | null),
        checkpoint: json(r.checkpoint as string),
        error: r.error,
      };
    }
    for await (const r of cursorRows(c, `SELECT * FROM ${s}.audit ORDER BY id`)) {
      yield {
        type: 'audit',
        at: iso(r.at_ms as number),
        action: r.action,
        subject: r.subject,
        detail: json(r.detail as string | null),
      };
    }
    await c.query('COMMIT');
    done = true;
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    // Also reached when the consumer stops early: the read-only transaction is simply dropped.
    if (!broken && !done) await c.query('ROLLBACK').catch(() => (broken = true));
    c.release(broken || undefined);
  }
}

/** Column lists and converters for one record type, inserted set-based with unnest. */
interface Loader {
  readonly sql: (s: string) => string;
  readonly row: (r: BackupRecord, ridOf: (id: unknown) => number) => unknown[];
}

const LOADERS: Record<string, Loader> = {
  counter: {
    sql: (
      s,
    ) => `INSERT INTO ${s}.counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])`,
    row: (r, ridOf) => [
      ridOf(r.subject),
      ms(r.periodStart),
      r.feature,
      ms(r.periodEnd),
      r.periodKey,
      r.used,
    ],
  },
  event: {
    sql: (
      s,
    ) => `INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
      SELECT subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[])
        WITH ORDINALITY AS u(subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, ord)
      ORDER BY ord`,
    row: (r, ridOf) => [
      ridOf(r.subject),
      r.kind,
      r.feature,
      ms(r.periodStart),
      ms(r.periodEnd),
      ms(r.at),
      r.amount,
      r.delta,
      r.usedAfter,
      r.limit ?? null,
      r.key ?? null,
      text(r.outcome),
      text(r.meta),
    ],
  },
  closed_period: {
    sql: (
      s,
    ) => `INSERT INTO ${s}.closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[])`,
    row: (r, ridOf) => [
      ridOf(r.subject),
      ms(r.start),
      ms(r.end),
      r.key,
      r.plan,
      JSON.stringify(r.limits),
      ms(r.closedAt),
    ],
  },
  run: {
    sql: (
      s,
    ) => `INSERT INTO ${s}.runs (key, status, started_ms, finished_ms, attempts, holder, period_start_ms, period_end_ms, checkpoint, error)
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[])`,
    row: (r) => [
      r.key,
      r.status,
      ms(r.startedAt),
      ms(r.finishedAt),
      r.attempts,
      r.holder ?? null,
      ms(r.periodStart),
      ms(r.periodEnd),
      JSON.stringify(r.checkpoint),
      r.error ?? null,
    ],
  },
  audit: {
    sql: (s) => `INSERT INTO ${s}.audit (at_ms, action, subject, detail)
      SELECT at_ms, action, subject, detail FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
        WITH ORDINALITY AS u(at_ms, action, subject, detail, ord) ORDER BY ord`,
    row: (r) => [ms(r.at), r.action, r.subject ?? null, text(r.detail)],
  },
};

const SUBJECT_INSERT = (s: string) => `INSERT INTO ${s}.subjects
    (id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
  SELECT id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key
  FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[])
    WITH ORDINALITY AS u(id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key, ord)
  ORDER BY ord
  RETURNING id, rid`;

const subjectRow = (r: BackupRecord): unknown[] => [
  r.id,
  r.plan,
  JSON.stringify(r.overrides ?? {}),
  r.suspended === true,
  r.suspendedReason ?? null,
  r.timeZone ?? null,
  ms(r.anchor),
  r.email ?? null,
  r.name ?? null,
  ms(r.createdAt),
  ms(r.closedThrough),
  ms(r.openEnd),
  r.openKey,
];

const CHUNK = 2000;

/** Transposes rows into one array per column, for unnest. */
function columns(rows: unknown[][]): unknown[][] {
  const width = rows[0]?.length ?? 0;
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const r of rows) r.forEach((v, i) => out[i]!.push(v));
  return out;
}

/** Loads validated records in one transaction, in record order; the target must be empty. */
export function importPostgres(
  db: PgDb,
  records: readonly BackupRecord[],
): Promise<{ records: number }> {
  const s = db.s;
  return db.tx(
    async (c) => {
      const n = await c.query<{ subjects: number; runs: number }>(
        `SELECT (SELECT COUNT(*) FROM ${s}.subjects) AS subjects, (SELECT COUNT(*) FROM ${s}.runs) AS runs`,
      );
      if (n.rows[0]!.subjects > 0 || n.rows[0]!.runs > 0) {
        throw new BadInputError(
          'restore: the target store is not empty; restore into a fresh database',
          'restore',
        );
      }
      const rid = new Map<string, number>();
      const ridOf = (id: unknown) => {
        const r = rid.get(String(id));
        if (r === undefined) {
          throw new BadInputError(
            `restore: record refers to unknown subject "${String(id)}"`,
            'restore',
          );
        }
        return r;
      };
      let type: string | null = null;
      let buffer: unknown[][] = [];
      const flush = async () => {
        if (type === null || buffer.length === 0) return;
        const values = columns(buffer);
        buffer = [];
        if (type === 'subject') {
          const res = await c.query<{ id: string; rid: number }>(SUBJECT_INSERT(s), values);
          for (const r of res.rows) rid.set(r.id, r.rid);
        } else {
          await c.query(LOADERS[type]!.sql(s), values);
        }
      };
      for (const r of records) {
        if (r.type !== type || buffer.length >= CHUNK) {
          await flush();
          type = r.type;
        }
        if (r.type === 'subject') buffer.push(subjectRow(r));
        else if (LOADERS[r.type]) buffer.push(LOADERS[r.type]!.row(r, ridOf));
        else throw new BadInputError(`restore: unknown record type "${r.type}"`, 'restore');
      }
      await flush();
      return { records: records.length };
    },
    { idempotent: false },
  );
}
