import type { Limits } from '../core/plans.js';
import { toIso } from '../core/period.js';
import type { Subject } from '../core/types.js';
import type { RunCheckpoint, RunRecord, RunStatus, SubjectRow } from './quota-store.js';

/**
 * Row ↔ record mapping shared by the SQL stores: both keep the same columns
 * (epoch-ms instants, overrides and checkpoints as JSON text), so one mapping
 * keeps their answers identical.
 */

const EMPTY: Limits = Object.freeze({});

/** The metadata of an event that carries usage `users import` brought in. */
export const IMPORT_META = JSON.stringify({ source: 'import' });

export function parseOverrides(text: string): Limits {
  return text === '{}' ? EMPTY : (JSON.parse(text) as Limits);
}

/** A subjects row; SQLite returns suspended as 0/1, PostgreSQL as a boolean. */
export interface SubjectRowColumns {
  rid: number;
  id: string;
  plan: string;
  overrides: string;
  suspended: boolean | number;
  suspended_reason: string | null;
  time_zone: string | null;
  anchor_ms: number;
  email: string | null;
  name: string | null;
  created_ms: number;
  closed_through_ms: number;
  open_end_ms: number;
  open_key: string;
}

export const SUBJECT_COLUMNS =
  'rid, id, plan, overrides, suspended, suspended_reason, time_zone, anchor_ms, email, name, created_ms, closed_through_ms, open_end_ms, open_key';

export function toSubject(r: SubjectRowColumns): SubjectRow {
  return {
    id: r.id,
    plan: r.plan,
    overrides: parseOverrides(r.overrides),
    suspended: r.suspended === true || r.suspended === 1,
    suspendedReason: r.suspended_reason,
    timeZone: r.time_zone,
    anchor: toIso(r.anchor_ms),
    email: r.email,
    name: r.name,
    createdAt: toIso(r.created_ms),
    closedThroughMs: r.closed_through_ms,
    openEndMs: r.open_end_ms,
    openKey: r.open_key,
  };
}

/** Drops the store's bookkeeping fields from a subject before it leaves the store. */
export function publicSubject(s: SubjectRow): Subject {
  const { closedThroughMs: _a, openEndMs: _b, openKey: _c, ...rest } = s;
  return rest;
}

export interface RunRow {
  key: string;
  status: RunStatus;
  started_ms: number;
  finished_ms: number | null;
  attempts: number;
  holder: string | null;
  period_start_ms: number | null;
  period_end_ms: number | null;
  checkpoint: string;
  error: string | null;
}

export const EMPTY_CHECKPOINT: RunCheckpoint = { cursor: null, subjects: 0, summary: {} };

export function toRun(r: RunRow): RunRecord {
  return {
    key: r.key,
    status: r.status,
    startedAt: toIso(r.started_ms),
    finishedAt: r.finished_ms === null ? null : toIso(r.finished_ms),
    attempts: r.attempts,
    holder: r.holder,
    periodStart: r.period_start_ms === null ? null : toIso(r.period_start_ms),
    periodEnd: r.period_end_ms === null ? null : toIso(r.period_end_ms),
    checkpoint: JSON.parse(r.checkpoint) as RunCheckpoint,
    error: r.error,
  };
}

/** Canonical label text of a job metric: sorted keys, so one series is one row. */
export function labelKey(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels || Object.keys(labels).length === 0) return '';
  return JSON.stringify(
    Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))),
  );
}

/** Job metrics that keep counting what retention deletes, so Prometheus totals never go down. */
export const PRUNED = {
  granted: 'consume_pruned_granted',
  denied: 'consume_pruned_denied',
  units: 'consume_pruned_units',
} as const;
