import { BadInputError } from '../core/errors.js';
import { toIso } from '../core/period.js';
import type { BackupRecord } from './quota-store.js';

/**
 * Row ↔ backup record mapping shared by the SQL stores. Both keep the same
 * columns (epoch-ms instants, JSON as text), so one mapping keeps their
 * backups identical and lets a file move between engines. The SQL that reads
 * and writes the rows stays in each store.
 */

type Row = Record<string, unknown>;
export type BackupType = 'subject' | 'counter' | 'event' | 'closed_period' | 'run' | 'audit';

const iso = (ms: unknown) => (ms === null || ms === undefined ? null : toIso(ms as number));
const ms = (v: unknown) => (v === null || v === undefined ? null : Date.parse(String(v)));
const json = (text: unknown) =>
  text === null || text === undefined ? null : (JSON.parse(String(text)) as unknown);
const text = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** A stored row as an engine-neutral record: ids instead of rowids, ISO instants, parsed JSON. */
export const RECORD_OF: Readonly<Record<BackupType, (r: Row) => BackupRecord>> = {
  subject: (r) => ({
    type: 'subject',
    id: r.id,
    plan: r.plan,
    overrides: json(r.overrides),
    // SQLite keeps 0/1, PostgreSQL a boolean.
    suspended: r.suspended === true || r.suspended === 1,
    suspendedReason: r.suspended_reason,
    timeZone: r.time_zone,
    anchor: iso(r.anchor_ms),
    email: r.email,
    name: r.name,
    createdAt: iso(r.created_ms),
    closedThrough: iso(r.closed_through_ms),
    openEnd: iso(r.open_end_ms),
    openKey: r.open_key,
  }),
  counter: (r) => ({
    type: 'counter',
    subject: r.subject,
    feature: r.feature,
    periodStart: iso(r.period_start_ms),
    periodEnd: iso(r.period_end_ms),
    periodKey: r.period_key,
    used: r.used,
  }),
  event: (r) => ({
    type: 'event',
    subject: r.subject,
    kind: r.kind,
    feature: r.feature,
    periodStart: iso(r.period_start_ms),
    periodEnd: iso(r.period_end_ms),
    at: iso(r.at_ms),
    amount: r.amount,
    delta: r.delta,
    usedAfter: r.used_after,
    limit: r.limit_at,
    key: r.idem_key,
    outcome: json(r.outcome),
    meta: json(r.meta),
  }),
  closed_period: (r) => ({
    type: 'closed_period',
    subject: r.subject,
    start: iso(r.start_ms),
    end: iso(r.end_ms),
    key: r.period_key,
    plan: r.plan,
    limits: json(r.limits),
    closedAt: iso(r.closed_ms),
  }),
  run: (r) => ({
    type: 'run',
    key: r.key,
    status: r.status,
    startedAt: iso(r.started_ms),
    finishedAt: iso(r.finished_ms),
    attempts: r.attempts,
    holder: r.holder,
    periodStart: iso(r.period_start_ms),
    periodEnd: iso(r.period_end_ms),
    checkpoint: json(r.checkpoint),
    error: r.error,
  }),
  audit: (r) => ({
    type: 'audit',
    at: iso(r.at_ms),
    action: r.action,
    subject: r.subject,
    detail: json(r.detail),
    actor: r.actor ?? 'cli',
    before: json(r.before_json),
    after: json(r.after_json),
    reason: r.reason ?? null,
  }),
};

/**
 * A record as the values of its INSERT, in the column order of each store's
 * statement (noted per type). `suspended` is a boolean; SQLite binds it as 0/1.
 */
export const VALUES_OF: Readonly<
  Record<BackupType, (r: BackupRecord, ridOf: (id: unknown) => number) => unknown[]>
> = {
  // id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name,
  // created_ms, closed_through_ms, open_end_ms, open_key
  subject: (r) => [
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
  ],
  // subject_rid, period_start_ms, feature, period_end_ms, period_key, used
  counter: (r, ridOf) => [
    ridOf(r.subject),
    ms(r.periodStart),
    r.feature,
    ms(r.periodEnd),
    r.periodKey,
    r.used,
  ],
  // subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta,
  // used_after, limit_at, idem_key, outcome, meta
  event: (r, ridOf) => [
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
  // subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms
  closed_period: (r, ridOf) => [
    ridOf(r.subject),
    ms(r.start),
    ms(r.end),
    r.key,
    r.plan,
    JSON.stringify(r.limits),
    ms(r.closedAt),
  ],
  // key, status, started_ms, finished_ms, attempts, holder, period_start_ms, period_end_ms,
  // checkpoint, error
  run: (r) => [
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
  // at_ms, action, subject, detail, actor, before_json, after_json, reason
  audit: (r) => [
    ms(r.at),
    r.action,
    r.subject ?? null,
    text(r.detail),
    r.actor ?? 'cli',
    text(r.before),
    text(r.after),
    r.reason ?? null,
  ],
};

export function isBackupType(type: string): type is BackupType {
  return Object.prototype.hasOwnProperty.call(RECORD_OF, type);
}

/** Refuses a restore into a store that already holds subjects or runs. */
export function assertRestoreTargetEmpty(subjects: number, runs: number): void {
  if (subjects > 0 || runs > 0) {
    throw new BadInputError(
      'restore: the target store is not empty; restore into a fresh database',
      'restore',
    );
  }
}

/** The rids the restore gave each subject id, and a lookup that names an id it has not seen. */
export function restoredRids(): {
  set(id: unknown, rid: number): void;
  ridOf(id: unknown): number;
} {
  const rids = new Map<string, number>();
  return {
    set: (id, rid) => void rids.set(String(id), rid),
    ridOf(id) {
      const rid = rids.get(String(id));
      if (rid === undefined)
        throw new BadInputError(
          `restore: record refers to unknown subject "${String(id)}"`,
          'restore',
        );
      return rid;
    },
  };
}

export function unknownRecordType(type: string): BadInputError {
  return new BadInputError(`restore: unknown record type "${type}"`, 'restore');
}
