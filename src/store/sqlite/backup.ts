import { toIso } from '../../core/period.js';
import { BadInputError } from '../../core/errors.js';
import type { BackupRecord } from '../quota-store.js';
import type { Db } from './connection.js';

const iso = (ms: number | null) => (ms === null ? null : toIso(ms));
const ms = (v: unknown) => (v === null || v === undefined ? null : Date.parse(String(v)));
const json = (text: string | null) => (text === null ? null : (JSON.parse(text) as unknown));
const text = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** Streams every table as engine-neutral records: ids instead of rowids, ISO instants. */
export function* exportSqlite(db: Db): Generator<BackupRecord> {
  const subjects = db.prepare('SELECT * FROM subjects ORDER BY rid');
  for (const r of subjects.iterate() as Iterable<Record<string, unknown>>) {
    yield {
      type: 'subject',
      id: r.id,
      plan: r.plan,
      overrides: json(r.overrides as string),
      suspended: r.suspended === 1,
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
  const counters = db.prepare(
    'SELECT s.id AS subject, c.* FROM counters c JOIN subjects s ON s.rid = c.subject_rid ORDER BY s.rid, c.period_start_ms, c.feature',
  );
  for (const r of counters.iterate() as Iterable<Record<string, unknown>>) {
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
  const events = db.prepare(
    'SELECT s.id AS subject, e.* FROM events e JOIN subjects s ON s.rid = e.subject_rid ORDER BY e.id',
  );
  for (const r of events.iterate() as Iterable<Record<string, unknown>>) {
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
  const closed = db.prepare(
    'SELECT s.id AS subject, p.* FROM closed_periods p JOIN subjects s ON s.rid = p.subject_rid ORDER BY s.rid, p.start_ms',
  );
  for (const r of closed.iterate() as Iterable<Record<string, unknown>>) {
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
  for (const r of db.prepare('SELECT * FROM runs ORDER BY key').iterate() as Iterable<
    Record<string, unknown>
  >) {
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
  for (const r of db.prepare('SELECT * FROM audit ORDER BY id').iterate() as Iterable<
    Record<string, unknown>
  >) {
    yield {
      type: 'audit',
      at: iso(r.at_ms as number),
      action: r.action,
      subject: r.subject,
      detail: json(r.detail as string | null),
    };
  }
}

/** Loads validated records in one transaction; the target must be empty. */
export function importSqlite(db: Db, records: readonly BackupRecord[]): { records: number } {
  return db
    .transaction(() => {
      const count = (db.prepare('SELECT COUNT(*) AS n FROM subjects').get() as { n: number }).n;
      const runs = (db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
      if (count > 0 || runs > 0) {
        throw new BadInputError(
          'restore: the target store is not empty; restore into a fresh database',
          'restore',
        );
      }
      const rid = new Map<string, number>();
      const ridOf = (id: unknown) => {
        const r = rid.get(String(id));
        if (r === undefined)
          throw new BadInputError(
            `restore: record refers to unknown subject "${String(id)}"`,
            'restore',
          );
        return r;
      };
      const insSubject = db.prepare(
        `INSERT INTO subjects (id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rid`,
      );
      const insCounter = db.prepare(
        'INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const insEvent = db.prepare(
        `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insClosed = db.prepare(
        'INSERT INTO closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      const insRun = db.prepare(
        `INSERT INTO runs (key, status, started_ms, finished_ms, attempts, holder, period_start_ms, period_end_ms, checkpoint, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insAudit = db.prepare(
        'INSERT INTO audit (at_ms, action, subject, detail) VALUES (?, ?, ?, ?)',
      );
      for (const r of records) {
        switch (r.type) {
          case 'subject': {
            const row = insSubject.get(
              r.id,
              r.plan,
              JSON.stringify(r.overrides ?? {}),
              r.suspended ? 1 : 0,
              r.suspendedReason ?? null,
              r.timeZone ?? null,
              ms(r.anchor),
              r.email ?? null,
              r.name ?? null,
              ms(r.createdAt),
              ms(r.closedThrough),
              ms(r.openEnd),
              r.openKey,
            ) as { rid: number };
            rid.set(String(r.id), row.rid);
            break;
          }
          case 'counter':
            insCounter.run(
              ridOf(r.subject),
              ms(r.periodStart),
              r.feature,
              ms(r.periodEnd),
              r.periodKey,
              r.used,
            );
            break;
          case 'event':
            insEvent.run(
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
            );
            break;
          case 'closed_period':
            insClosed.run(
              ridOf(r.subject),
              ms(r.start),
              ms(r.end),
              r.key,
              r.plan,
              JSON.stringify(r.limits),
              ms(r.closedAt),
            );
            break;
          case 'run':
            insRun.run(
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
            );
            break;
          case 'audit':
            insAudit.run(ms(r.at), r.action, r.subject ?? null, text(r.detail));
            break;
          default:
            throw new BadInputError(`restore: unknown record type "${r.type}"`, 'restore');
        }
      }
      return { records: records.length };
    })
    .immediate();
}
