import type {
  Actor,
  ApiKeyInfo,
  AuditAction,
  AuditEntry,
  Scope,
  UsageEventView,
} from '../core/admin-types.js';
import { CLI_ACTOR } from '../core/admin-types.js';
import { BadInputError } from '../core/errors.js';
import { toIso } from '../core/period.js';
import type { Subject } from '../core/types.js';
import type { ResolvedSubject } from '../core/subject-rules.js';

/**
 * Row ↔ record mapping for the service's tables, shared by the SQL stores
 * (same columns on both: epoch-ms instants, JSON as text).
 */

export interface ApiKeyRow {
  id: string;
  name: string;
  scopes: string;
  prefix: string;
  hash: string;
  created_ms: number | string;
  revoked_ms: number | string | null;
}

export function toApiKeyInfo(r: ApiKeyRow): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    scopes: JSON.parse(r.scopes) as Scope[],
    prefix: r.prefix,
    createdAt: toIso(Number(r.created_ms)),
    revokedAt: r.revoked_ms === null ? null : toIso(Number(r.revoked_ms)),
  };
}

export interface AuditRow {
  id: number | string;
  at_ms: number | string;
  actor: string;
  action: string;
  subject: string | null;
  before_json: string | null;
  after_json: string | null;
  reason: string | null;
}

/** The api_keys columns both SQL engines read into an ApiKeyRow. */
export const KEY_COLUMNS = 'id, name, scopes, prefix, hash, created_ms, revoked_ms';

export const AUDIT_COLUMNS = 'id, at_ms, actor, action, subject, before_json, after_json, reason';

export function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    id: String(r.id),
    at: toIso(Number(r.at_ms)),
    actor: r.actor,
    action: r.action as AuditAction,
    ...(r.subject === null ? {} : { subject: r.subject }),
    before: r.before_json === null ? null : (JSON.parse(r.before_json) as unknown),
    after: r.after_json === null ? null : (JSON.parse(r.after_json) as unknown),
    ...(r.reason === null ? {} : { reason: r.reason }),
  };
}

/** One audit entry about to be written with the change it records. */
export interface AuditDraft {
  readonly action: AuditAction;
  readonly subject: string | null;
  readonly before: unknown;
  readonly after: unknown;
  /** Engine bookkeeping (a bulk reset's operation id); not part of the entry. */
  readonly detail?: unknown;
}

/** Values in the column order (at_ms, actor, action, subject, before_json, after_json, reason, detail). */
export function auditValues(nowMs: number, draft: AuditDraft, actor: Actor = CLI_ACTOR): unknown[] {
  return [
    nowMs,
    actor.actor,
    draft.action,
    draft.subject,
    draft.before === undefined ? null : JSON.stringify(draft.before),
    draft.after === undefined ? null : JSON.stringify(draft.after),
    actor.reason ?? null,
    draft.detail === undefined ? null : JSON.stringify(draft.detail),
  ];
}

export const AUDIT_INSERT_COLUMNS =
  'at_ms, actor, action, subject, before_json, after_json, reason, detail';

export interface EventViewRow {
  id: number | string;
  at_ms: number | string;
  kind: 'consume' | 'refund' | 'reset';
  feature: string;
  amount: number | string;
  delta: number | string;
  idem_key: string | null;
  meta: string | null;
  period_start_ms: number | string;
}

/** Clamps a page size to 1..max. */
export function pageLimit(limit: number | undefined, fallback = 100, max = 1000): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(Math.max(Math.trunc(limit), 1), max);
}

/** Parses an `after` cursor that must be an integer id; null for the first page. */
export function idCursor(after: string | null | undefined): number | null {
  if (after === undefined || after === null || after === '') return null;
  if (!/^[0-9]{1,15}$/.test(after)) {
    throw new BadInputError('after: expected the `next` value of the previous page', 'after');
  }
  return Number(after);
}

export function toEventView(r: EventViewRow, subject: string, periodKey: string): UsageEventView {
  return {
    id: String(r.id),
    at: toIso(Number(r.at_ms)),
    subject,
    feature: r.feature,
    kind: r.kind,
    // A consume's amount is what was asked; `granted` says whether it counted.
    amount: Number(r.amount),
    periodKey,
    key: r.idem_key,
    meta: r.meta === null ? {} : (JSON.parse(r.meta) as Record<string, unknown>),
    ...(r.kind === 'consume' ? { granted: Number(r.delta) > 0 } : {}),
  };
}

/** The exclusive upper bound of a prefix range: every string that starts with q sorts below it. */
export function prefixEnd(q: string): string {
  return q + '\u{10FFFF}';
}

type SubjectAudit = (before: Subject, after: Subject) => AuditDraft;

const pick =
  <K extends keyof Subject>(action: AuditAction, ...fields: K[]): SubjectAudit =>
  (before, after) => ({
    action,
    subject: after.id,
    before: Object.fromEntries(fields.map((f) => [f, before[f]])),
    after: Object.fromEntries(fields.map((f) => [f, after[f]])),
  });

/** What each subject change records: the fields it touches, before and after. */
export const AUDIT_OF = {
  plan: pick('plan.set', 'plan'),
  override: pick('override.set', 'overrides'),
  suspend: pick('subject.suspend', 'suspended', 'suspendedReason'),
  unsuspend: pick('subject.unsuspend', 'suspended', 'suspendedReason'),
  update: pick('subject.update', 'timeZone', 'email', 'name'),
} as const satisfies Record<string, SubjectAudit>;

export function createdAudit(created: Subject): AuditDraft {
  return { action: 'subject.create', subject: created.id, before: null, after: created };
}

/** Consumes creating a subject on first sight are not an admin's doing. */
export const SYSTEM_ACTOR: Actor = Object.freeze({ actor: 'system' });

/** Two id-ordered lists (each already limited) merged into one, without duplicates, at most `limit`. */
export function mergeById<T extends { id: string }>(
  a: readonly T[],
  b: readonly T[],
  limit: number,
): T[] {
  const byId = new Map<string, T>();
  for (const r of [...a, ...b]) byId.set(r.id, r);
  // Byte order, as the stores sort ids (SQLite BINARY, PostgreSQL "C", Firestore).
  return [...byId.values()]
    .sort((x, y) => Buffer.compare(Buffer.from(x.id), Buffer.from(y.id)))
    .slice(0, limit);
}

/** A manual reset: the units in the period before, zero after. */
export function resetAudit(
  subject: string,
  period: string,
  cleared: Record<string, number>,
): AuditDraft {
  return {
    action: 'subject.reset',
    subject,
    before: { period, used: cleared },
    after: { period, used: Object.fromEntries(Object.keys(cleared).map((f) => [f, 0])) },
  };
}

/** An admin refund: the feature's units in the refunded consume's period, before and after. */
export function refundAudit(
  subject: string,
  refund: { key: string; feature: string; period: string; before: number; after: number },
): AuditDraft {
  const { key, feature, period } = refund;
  return {
    action: 'event.refund',
    subject,
    before: { key, period, used: { [feature]: refund.before } },
    after: { key, period, used: { [feature]: refund.after } },
  };
}

/** The subject a resolved insert creates, as getSubject would return it. */
export function subjectOfResolved(r: ResolvedSubject): Subject {
  return {
    id: r.id,
    plan: r.plan,
    overrides: r.overrides,
    suspended: false,
    suspendedReason: null,
    timeZone: r.timeZone,
    anchor: toIso(r.anchorMs),
    email: r.email,
    name: r.name,
    createdAt: toIso(r.createdMs),
  };
}

/** Parses an `after` cursor that must be a Firestore seq (see layout.newSeq); null for the first page. */
export function seqCursor(after: string | null | undefined): string | null {
  if (after === undefined || after === null || after === '') return null;
  if (!/^[0-9a-z]{16,40}$/.test(after)) {
    throw new BadInputError('after: expected the `next` value of the previous page', 'after');
  }
  return after;
}
