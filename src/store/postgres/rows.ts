import type { Limits } from '../../core/plans.js';
import { toIso } from '../../core/period.js';
import type { Subject } from '../../core/types.js';
import type { SubjectRow } from '../quota-store.js';

/** A subjects row as pg returns it (BIGINT parsed to number by the pool). */
export interface SubjectDbRow {
  rid: number;
  id: string;
  plan: string;
  overrides: string;
  suspended: boolean;
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

const EMPTY: Limits = Object.freeze({});

export function parseOverrides(text: string): Limits {
  return text === '{}' ? EMPTY : (JSON.parse(text) as Limits);
}

export function toSubject(r: SubjectDbRow): SubjectRow {
  return {
    id: r.id,
    plan: r.plan,
    overrides: parseOverrides(r.overrides),
    suspended: r.suspended,
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
  return {
    id: s.id,
    plan: s.plan,
    overrides: s.overrides,
    suspended: s.suspended,
    suspendedReason: s.suspendedReason,
    timeZone: s.timeZone,
    anchor: s.anchor,
    email: s.email,
    name: s.name,
    createdAt: s.createdAt,
  };
}
