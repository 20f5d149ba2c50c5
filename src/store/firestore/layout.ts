import { createHash, randomBytes } from 'node:crypto';
import { Timestamp, type DocumentData, type DocumentSnapshot } from '@google-cloud/firestore';
import type { Limit, Limits } from '../../core/plans.js';
import type { Period, PeriodSubject } from '../../core/period.js';
import { toIso } from '../../core/period.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { ResolvedSubject } from '../../core/subject-rules.js';
import { canonicalTimeZone } from '../../core/time-zone.js';
import type { Subject } from '../../core/types.js';

/**
 * The earlier system's layout, read and written as-is, plus one map field
 * `quotaclock` on each user document for what that system had no place for.
 *
 *   userQuotas/{uid}                       the user's quota document (legacy fields)
 *   userQuotas/{uid}/usage_history/{key}   one per period: period, user_uid, summary (+ quotaclock map)
 *   userQuotas/{uid}/usage_events/{id}     one per consume, refund or manual reset
 *   quotaclockRuns/{key}, quotaclockLeases/{name}, quotaclockAudit/{id}, quotaclockMeta/schema
 *   quotaclockApiKeys/{id} (sha256 and prefix, never the key), quotaclockSessions/{sha256 of the token}
 */
export const COLLECTIONS = {
  quotas: 'userQuotas',
  history: 'usage_history',
  events: 'usage_events',
  runs: 'quotaclockRuns',
  leases: 'quotaclockLeases',
  audit: 'quotaclockAudit',
  apiKeys: 'quotaclockApiKeys',
  sessions: 'quotaclockSessions',
  meta: 'quotaclockMeta',
} as const;

/** What the Python code assumed for a missing field (app/models/quota_models.py). */
export const LEGACY_DEFAULT_PLAN = 'free';
export const LEGACY_DEFAULT_LIMITS: Readonly<Record<string, number>> = { stock_reports: 10 };
/** -1 meant unlimited in quota_limits. */
export const LEGACY_UNLIMITED = -1;

export const limitField = (feature: string) => `${feature}_monthly`;
export const lifetimeField = (feature: string) => `total_${feature}`;

/** The earlier system stored a period's end as its last second (23:59:59 on the last day). */
export const LEGACY_END_OFFSET_MS = 1000;
export const legacyEnd = (p: Period) =>
  Timestamp.fromMillis(Math.max(p.startMs, p.endMs - LEGACY_END_OFFSET_MS));

export const ts = (ms: number) => Timestamp.fromMillis(ms);

/** Any instant the old code or a console edit may have left: Timestamp, Date, ISO text, epoch number. */
export function toMs(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Timestamp) return v.toMillis();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.getTime();
  if (typeof v === 'number') return Number.isFinite(v) ? (v > 1e11 ? v : v * 1000) : null;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : ms;
  }
  if (typeof v === 'object') {
    const o = v as {
      seconds?: unknown;
      _seconds?: unknown;
      nanoseconds?: unknown;
      _nanoseconds?: unknown;
    };
    const s = o.seconds ?? o._seconds;
    const n = o.nanoseconds ?? o._nanoseconds ?? 0;
    if (typeof s === 'number' && typeof n === 'number') return s * 1000 + Math.floor(n / 1e6);
  }
  return null;
}

/** A counter value: a finite number ≥ 0, whole; anything else reads as absent. */
export function toCount(v: unknown): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return Math.max(0, Math.floor(v));
}

const toText = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Timestamp);
const mapOf = (v: unknown): Record<string, unknown> => (isMap(v) ? v : {});

/** A stored legacy limit: -1 (or any negative sentinel the UI wrote) is unlimited. */
export function legacyLimit(v: unknown): Limit | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  if (v === LEGACY_UNLIMITED) return null;
  return Math.max(0, Math.floor(v));
}

export const legacyLimitValue = (limit: Limit): number =>
  limit === null ? LEGACY_UNLIMITED : limit;

/** Counters present in a map (present means the counter exists, even at 0). */
export function countersOf(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, raw] of Object.entries(mapOf(v))) {
    const n = toCount(raw);
    if (n !== null) out[k] = n;
  }
  return out;
}

export function limitsOfMap(v: unknown): Record<string, Limit> {
  const out: Record<string, Limit> = {};
  for (const [k, raw] of Object.entries(mapOf(v))) {
    if (raw === null) out[k] = null;
    else if (typeof raw === 'number' && Number.isFinite(raw)) out[k] = raw;
  }
  return out;
}

export interface QuotaDoc {
  readonly id: string;
  readonly exists: boolean;
  readonly updateTime: Timestamp | null;
  /** The document carries quotaclock's own map (written by quotaclock at least once). */
  readonly adopted: boolean;
  readonly plan: string;
  /** Explicit when adopted; for a legacy document, the stored limits that differ from the plan. */
  readonly overrides: Limits;
  readonly suspended: boolean;
  readonly suspendedReason: string | null;
  readonly timeZone: string | null;
  readonly anchorMs: number;
  readonly email: string | null;
  readonly name: string | null;
  readonly createdMs: number;
  /** Ordering of subjects for export (a rowid stand-in); null for legacy documents. */
  readonly seq: string | null;
  /** The period current_usage belongs to. */
  readonly current: Period;
  /** current_usage: counters of the current period that exist. */
  readonly currentUsed: Readonly<Record<string, number>>;
  /** The first period not closed yet, when it is older than `current` (its counters are in usage_history). */
  readonly stash: Period | null;
  readonly lifetime: Readonly<Record<string, number>>;
  /** Usage counted before quotaclock's first write: the events start after it. */
  readonly baseline: {
    readonly startMs: number;
    readonly used: Readonly<Record<string, number>>;
  } | null;
  /** current_period_start and a current_period_end timestamp were present (the reset's scans need the latter). */
  readonly hasPeriodFields: boolean;
  /** Which display-name field the document uses. */
  readonly nameField: 'user_display_name' | 'user_displayName' | null;
  readonly hasUserUid: boolean;
  /** The stored fields as read (for the pre-reset export). */
  readonly raw: DocumentData;
}

export const ctxOf = (d: Pick<QuotaDoc, 'timeZone' | 'anchorMs'>): PeriodSubject => ({
  timeZone: d.timeZone,
  anchorMs: d.anchorMs,
});

/** The subject's first open period: the stash when there is one, else the current period. */
export const markOf = (d: QuotaDoc): Period => d.stash ?? d.current;

function zoneOf(v: unknown): string | null {
  const z = toText(v);
  if (z === null) return null;
  try {
    return canonicalTimeZone(z);
  } catch {
    return null;
  }
}

/** The limit in force for one feature of a document, from its plan and overrides. */
export function limitOf(
  policy: QuotaPolicy,
  plan: string,
  overrides: Limits,
  feature: string,
): Limit {
  if (Object.prototype.hasOwnProperty.call(overrides, feature)) return overrides[feature] ?? null;
  // An unknown plan (one the configuration dropped) grants nothing rather than everything.
  if (!policy.catalog.has(plan)) return 0;
  return policy.catalog.limitFor(plan, {}, feature);
}

export function limitsOf(
  policy: QuotaPolicy,
  plan: string,
  overrides: Limits,
): Record<string, Limit> {
  const out: Record<string, Limit> = {};
  for (const f of policy.catalog.features) out[f] = limitOf(policy, plan, overrides, f);
  return out;
}

/** The limits a closed period records: SQLite records {} for a plan the configuration lacks. */
export function closingLimits(policy: QuotaPolicy, d: QuotaDoc): Record<string, Limit> {
  if (!policy.catalog.has(d.plan) && Object.keys(d.overrides).length === 0) return {};
  return limitsOf(policy, d.plan, d.overrides);
}

/** quota_limits as the earlier system kept it: every feature's limit, -1 for unlimited. */
export function legacyLimitsMap(limits: Readonly<Record<string, Limit>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [f, l] of Object.entries(limits)) out[limitField(f)] = legacyLimitValue(l);
  return out;
}

/** Overrides a legacy document implies: its stored limits where they differ from the plan. */
function legacyOverrides(policy: QuotaPolicy, plan: string, raw: DocumentData): Limits {
  const stored = mapOf(raw.quota_limits);
  const out: Record<string, Limit> = {};
  for (const f of policy.catalog.features) {
    let limit = legacyLimit(stored[limitField(f)]);
    if (limit === undefined && f in LEGACY_DEFAULT_LIMITS) limit = LEGACY_DEFAULT_LIMITS[f]!;
    if (limit === undefined) continue;
    const planLimit = policy.catalog.has(plan) ? policy.catalog.limitFor(plan, {}, f) : undefined;
    if (planLimit !== limit) out[f] = limit;
  }
  return out;
}

/**
 * Reads a user document with the defaults the old code used (free plan,
 * 10 reports, 0 used, not suspended), never throwing on a missing or
 * malformed field.
 */
export type SnapLike = Pick<
  DocumentSnapshot,
  'id' | 'exists' | 'data' | 'createTime' | 'updateTime'
>;

/** A snapshot of a document about to be created, so new and stored documents read alike. */
export function pendingSnap(id: string, data: DocumentData): SnapLike {
  return {
    id,
    exists: true,
    data: () => data,
    createTime: undefined,
    updateTime: undefined,
  } as unknown as SnapLike;
}

export function parseQuotaDoc(policy: QuotaPolicy, snap: SnapLike, nowMs: number): QuotaDoc {
  const raw: DocumentData = snap.exists ? (snap.data() ?? {}) : {};
  const qc = isMap(raw.quotaclock) ? raw.quotaclock : null;
  const lifetimeMap = mapOf(raw.lifetime_stats);
  const plan = toText(raw.plan_type) ?? LEGACY_DEFAULT_PLAN;
  const createTime = snap.createTime?.toMillis() ?? null;
  const createdMs =
    toMs(raw.created_at) ??
    toMs(lifetimeMap.member_since) ??
    createTime ??
    toMs(raw.updated_at) ??
    nowMs;
  const anchorMs = (qc ? toMs(qc.anchor) : null) ?? toMs(lifetimeMap.member_since) ?? createdMs;
  const timeZone = qc ? zoneOf(qc.time_zone) : null;
  const ctx = { timeZone, anchorMs };
  const startMs = toMs(raw.current_period_start);
  const fallback =
    toMs(raw.current_period_end) ??
    toMs(raw.last_reset) ??
    toMs(raw.updated_at) ??
    toMs(raw.created_at) ??
    createTime ??
    nowMs;
  const current = policy.periods.at(ctx, startMs ?? fallback);
  let stash: Period | null = null;
  if (qc) {
    const s = toMs(qc.open_start);
    const e = toMs(qc.open_end);
    const k = toText(qc.open_key);
    if (s !== null && e !== null && k !== null && s < current.startMs)
      stash = { startMs: s, endMs: e, key: k };
  }
  const lifetime: Record<string, number> = {};
  for (const f of policy.catalog.features)
    lifetime[f] = toCount(lifetimeMap[lifetimeField(f)]) ?? 0;
  let baseline: QuotaDoc['baseline'] = null;
  if (qc && isMap(qc.baseline)) {
    const b = toMs(qc.baseline.start);
    if (b !== null) baseline = { startMs: b, used: countersOf(qc.baseline.used) };
  }
  const nameField =
    typeof raw.user_display_name === 'string'
      ? 'user_display_name'
      : typeof raw.user_displayName === 'string'
        ? 'user_displayName'
        : null;
  return {
    id: snap.id,
    exists: snap.exists,
    updateTime: snap.updateTime ?? null,
    adopted: qc !== null,
    plan,
    overrides: qc ? limitsOfMap(qc.overrides) : legacyOverrides(policy, plan, raw),
    suspended: raw.is_suspended === true,
    suspendedReason: raw.is_suspended === true ? toText(raw.suspension_reason) : null,
    timeZone,
    anchorMs,
    email: toText(raw.user_email) === 'N/A' ? null : toText(raw.user_email),
    name: nameField ? (toText(raw[nameField]) === 'N/A' ? null : toText(raw[nameField])) : null,
    createdMs,
    seq: qc ? toText(qc.seq) : null,
    current,
    currentUsed: countersOf(raw.current_usage),
    stash,
    lifetime,
    baseline,
    hasPeriodFields: startMs !== null && raw.current_period_end instanceof Timestamp,
    nameField,
    hasUserUid: typeof raw.user_uid === 'string',
    raw,
  };
}

export function subjectOf(d: QuotaDoc): Subject {
  return {
    id: d.id,
    plan: d.plan,
    overrides: d.overrides,
    suspended: d.suspended,
    suspendedReason: d.suspendedReason,
    timeZone: d.timeZone,
    anchor: toIso(d.anchorMs),
    email: d.email,
    name: d.name,
    createdAt: toIso(d.createdMs),
  };
}

// --- ordering and ids ---

let counter = 0;
const pad = (s: string, n: number) => s.padStart(n, '0');

/**
 * A sortable, unique id standing in for a rowid: wall-clock milliseconds,
 * a per-process counter and randomness. Restores use `importSeq` instead, so
 * a restored store exports its records in the order they were given.
 */
export function newSeq(): string {
  counter = (counter + 1) % 36 ** 5;
  return `${pad(Date.now().toString(36), 9)}${pad(counter.toString(36), 5)}${randomBytes(5).toString('hex')}`;
}

export function importSeq(base: number, index: number): string {
  return `${pad(base.toString(36), 9)}${pad(index.toString(36), 7)}${'0'.repeat(8)}`;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 40);

/** The event document for an idempotency key (consumes) or refund:<key> (refunds). */
export const keyedEventId = (key: string) => `k_${hash(key)}`;
export const eventId = (seq: string) => `e_${seq}`;
/** The audit entry that marks one subject done by one bulk-reset operation in one period. */
export const operationAuditId = (subject: string, operation: string, period: string) =>
  `op_${hash(`${subject}\u0000${operation}\u0000${period}`)}`;

// --- writing ---

export interface DocFields {
  [path: string]: unknown;
}

/** The whole document for a subject quotaclock creates, shaped as the old initializer did. */
export function newQuotaDocument(
  policy: QuotaPolicy,
  s: ResolvedSubject,
  nowMs: number,
  seq: string,
): DocumentData {
  const period = { startMs: s.closedThroughMs, endMs: s.openEndMs, key: s.openKey };
  const lifetime: Record<string, unknown> = {};
  for (const f of policy.catalog.features) lifetime[lifetimeField(f)] = 0;
  lifetime.member_since = ts(s.createdMs);
  return {
    user_uid: s.id,
    plan_type: s.plan,
    plan_updated_at: ts(nowMs),
    quota_limits: legacyLimitsMap(limitsOf(policy, s.plan, s.overrides)),
    current_usage: {},
    current_period_start: ts(period.startMs),
    current_period_end: legacyEnd(period),
    last_reset: ts(nowMs),
    created_at: ts(s.createdMs),
    updated_at: ts(nowMs),
    is_suspended: false,
    suspension_reason: null,
    lifetime_stats: lifetime,
    ...(s.email ? { user_email: s.email } : {}),
    // The old initializer wrote user_displayName; the layout's documentation says user_display_name.
    ...(s.name ? { user_display_name: s.name, user_displayName: s.name } : {}),
    quotaclock: {
      v: 1,
      seq,
      overrides: { ...s.overrides },
      time_zone: s.timeZone,
      anchor: ts(s.anchorMs),
      baseline: null,
    },
  };
}

/**
 * Fields that turn a legacy document into one quotaclock maintains, written
 * with the first change quotaclock makes to it. What the old code counted so
 * far is kept as the baseline, since no event explains it.
 */
export function adoptionFields(d: QuotaDoc): DocFields {
  if (d.adopted) return {};
  const out: DocFields = {
    quotaclock: {
      v: 1,
      seq: newSeq(),
      overrides: { ...d.overrides },
      time_zone: null,
      anchor: ts(d.anchorMs),
      baseline: { start: ts(d.current.startMs), used: { ...d.currentUsed } },
    },
  };
  if (!d.hasPeriodFields) {
    out.current_period_start = ts(d.current.startMs);
    out.current_period_end = legacyEnd(d.current);
  }
  if (!d.hasUserUid) out.user_uid = d.id;
  return out;
}

/**
 * A write of one period's usage_history document: the fields old readers use
 * (period, user_uid, summary) merged in, quotaclock's map replaced whole, and
 * the old per-report list and daily_stats left as they are.
 */
export function historyWrite(
  policy: QuotaPolicy,
  uid: string,
  period: Period,
  used: Readonly<Record<string, number>>,
  nowMs: number,
  qc: Record<string, unknown>,
): { data: DocumentData; mergeFields: string[] } {
  const days = Math.max(1, Math.round((period.endMs - period.startMs) / 86_400_000));
  const summary: Record<string, number> = {};
  for (const f of policy.catalog.features) summary[lifetimeField(f)] = used[f] ?? 0;
  summary.avg_daily_usage = Math.round(((used.stock_reports ?? 0) / days) * 100) / 100;
  return {
    data: { period: period.key, user_uid: uid, updated_at: ts(nowMs), summary, quotaclock: qc },
    mergeFields: [
      'period',
      'user_uid',
      'updated_at',
      ...Object.keys(summary).map((k) => `summary.${k}`),
      'quotaclock',
    ],
  };
}

/** quotaclock's map on a history document whose period is not closed yet. */
export function openHistoryMap(
  policy: QuotaPolicy,
  period: Period,
  used: Readonly<Record<string, number>>,
) {
  return {
    key: period.key,
    start: ts(period.startMs),
    end: ts(period.endMs),
    used: { ...used },
    totals: totalsOf(policy, used),
    closed: false,
  };
}

/** Every feature's usage as a number, for aggregation queries (a missing field would drop the document). */
export function totalsOf(
  policy: QuotaPolicy,
  used: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of policy.catalog.features) out[f] = used[f] ?? 0;
  return out;
}

/**
 * Sets a field inside a map of an update: inside the map when the update
 * replaces the map whole, else by its dotted path.
 */
export function setIn(fields: DocFields, map: string, name: string, value: unknown): void {
  const m = fields[map];
  if (typeof m === 'object' && m !== null && !Array.isArray(m))
    (m as Record<string, unknown>)[name] = value;
  else fields[`${map}.${name}`] = value;
}

/** The history document of a period a legacy reader knows by its key. */
export interface HistoryDoc {
  readonly key: string;
  readonly period: Period | null;
  /** quotaclock's map is present: counters and closing details are authoritative. */
  readonly managed: boolean;
  readonly used: Readonly<Record<string, number>>;
  readonly closed: boolean;
  readonly plan: string | null;
  readonly limits: Readonly<Record<string, Limit>> | null;
  readonly closedMs: number | null;
  /** For legacy documents: the total the old code recorded. */
  readonly legacyTotal: number | null;
  readonly updatedMs: number | null;
}

/** The UTC month a legacy key such as 2026-01 names, read under the configured rule. */
function legacyPeriod(
  policy: QuotaPolicy,
  d: Pick<QuotaDoc, 'timeZone' | 'anchorMs'>,
  key: string,
): Period | null {
  const m = /^(\d{4})-(\d{2})$/.exec(key);
  if (!m) return null;
  const startMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  return policy.periods.at(ctxOf(d), startMs);
}

export function parseHistoryDoc(
  policy: QuotaPolicy,
  owner: Pick<QuotaDoc, 'timeZone' | 'anchorMs'>,
  snap: SnapLike,
): HistoryDoc {
  const raw: DocumentData = snap.exists ? (snap.data() ?? {}) : {};
  const qc = isMap(raw.quotaclock) ? raw.quotaclock : null;
  if (qc) {
    const s = toMs(qc.start);
    const e = toMs(qc.end);
    const key = toText(qc.key) ?? snap.id;
    return {
      key,
      period:
        s !== null && e !== null ? { startMs: s, endMs: e, key } : legacyPeriod(policy, owner, key),
      managed: true,
      used: countersOf(qc.used),
      closed: qc.closed === true,
      plan: toText(qc.plan),
      limits: isMap(qc.limits) ? limitsOfMap(qc.limits) : null,
      closedMs: toMs(qc.closed_at),
      legacyTotal: null,
      updatedMs: toMs(raw.updated_at),
    };
  }
  const key = toText(raw.period) ?? snap.id;
  const summary = mapOf(raw.summary);
  const total =
    toCount(summary.total_stock_reports) ??
    (Array.isArray(raw.stock_reports) ? raw.stock_reports.length : 0);
  return {
    key,
    period: legacyPeriod(policy, owner, key),
    managed: false,
    used: {},
    closed: false,
    plan: null,
    limits: null,
    closedMs: null,
    legacyTotal: total,
    updatedMs: toMs(raw.updated_at) ?? toMs(raw.created_at),
  };
}

/** The counters a legacy history document stands for: the old code's report total. */
export const legacyCounters = (h: HistoryDoc): Record<string, number> =>
  h.legacyTotal && h.legacyTotal > 0 ? { stock_reports: h.legacyTotal } : {};

export const iso = (ms: number | null) => (ms === null ? null : toIso(ms));
export const json = (text: unknown) =>
  typeof text === 'string' ? (JSON.parse(text) as unknown) : null;
export const jsonText = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/**
 * Sets one field of quotaclock's map in an update: inside the map when this
 * update creates it (adoption), else by its dotted path.
 */
export function setQc(fields: DocFields, name: string, value: unknown): void {
  const map = fields.quotaclock as Record<string, unknown> | undefined;
  if (map) {
    if (value !== undefined && !isDeleteSentinel(value)) map[name] = value;
    else delete map[name];
  } else {
    fields[`quotaclock.${name}`] = value;
  }
}

function isDeleteSentinel(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { methodName?: string }).methodName === 'FieldValue.delete'
  );
}
