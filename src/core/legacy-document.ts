import { BadInputError } from './errors.js';
import type { Limit, Limits } from './plans.js';
import { toIso } from './period.js';
import type { QuotaPolicy } from './policy.js';
import type { ImportedSubject } from './types.js';

/**
 * A `userQuotas` document of the earlier Python system, exported as JSON, read
 * into an import row with the rules the Firestore store reads it by
 * (docs/firestore.md): the old defaults for missing or mistyped fields
 * (free plan, 10 reports, 0 used, not suspended), `-1` as unlimited, `N/A`
 * as no email, and a stored limit that differs from the plan's as an
 * override, so every user keeps the limit the old code enforced.
 */

/** What the old code assumed for a missing field (app/models/quota_models.py). */
const LEGACY_DEFAULT_PLAN = 'free';
const LEGACY_DEFAULT_LIMITS: Readonly<Record<string, number>> = { stock_reports: 10 };
const LEGACY_UNLIMITED = -1;

/** Fields only the old layout has: a JSONL row with one of them is an old document. */
const LEGACY_ONLY = [
  'quota_limits',
  'current_usage',
  'current_period_start',
  'current_period_end',
  'is_suspended',
  'suspension_reason',
  'last_reset',
  'lifetime_stats',
  'plan_updated_at',
  'updated_at',
  'user_displayName',
  'quotaclock',
];

/** Every field an old document may carry; anything else is refused, so a typo is not lost silently. */
const LAYOUT_FIELDS = [
  ...LEGACY_ONLY,
  'user_uid',
  'plan_type',
  'user_email',
  'user_display_name',
  'created_at',
];
/** Where export tools put the document id. */
const ID_FIELDS = ['id', 'uid', '_id', '__id__', '__name__'];
const KNOWN = new Set([...LAYOUT_FIELDS, ...ID_FIELDS]);

type Row = Record<string, unknown>;

const isMap = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A line of quotaclock's own pre-reset export (docs/firestore.md): header, document or footer. */
const isExportLine = (row: Row) =>
  row.type === 'header' || row.type === 'footer' || (row.type === 'document' && isMap(row.data));

export function isLegacyDocument(row: Row): boolean {
  return isExportLine(row) || LEGACY_ONLY.some((f) => f in row);
}

/**
 * An instant as JSON exports write a Firestore Timestamp: quotaclock's own
 * `{"$timestamp": ISO}`, `{"$timestamp": {seconds, nanos}}` or epoch seconds,
 * the Node SDK's `{_seconds, _nanoseconds}`, `{seconds, nanoseconds}`,
 * `{"__time__": ISO}` (firebase-tools), `{"$date": …}`, ISO text, epoch
 * seconds or milliseconds. undefined: not an instant in any of these forms.
 */
export function decodeInstant(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(ms) ? ms : undefined;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? (v > 1e11 ? v : v * 1000) : undefined;
  if (!isMap(v)) return undefined;
  for (const wrapper of ['$timestamp', '__time__', '$date', 'timestampValue']) {
    if (wrapper in v) return decodeInstant(v[wrapper]);
  }
  const s = v.seconds ?? v._seconds ?? v.t;
  const n = v.nanoseconds ?? v._nanoseconds ?? v.nanos ?? 0;
  if (typeof s === 'number' && typeof n === 'number' && Number.isFinite(s + n))
    return s * 1000 + Math.floor(n / 1e6);
  if (typeof s === 'string' && /^\d+$/.test(s)) return Number(s) * 1000;
  return undefined;
}

export interface LegacyReading {
  /** null for the header and footer lines of a quotaclock export. */
  readonly subject: ImportedSubject | null;
  /** Fields read with the old defaults, and usage left behind: said, not silently dropped. */
  readonly notes: readonly string[];
}

const show = (v: unknown) => {
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

function instantField(doc: Row, field: string): number | null {
  const v = doc[field];
  if (v === undefined || v === null) return null;
  const ms = decodeInstant(v);
  if (ms === undefined) throw new BadInputError(`${field}: not a timestamp: ${show(v)}`, field);
  return ms;
}

/** A text field; the old code wrote "N/A" for an unknown email or name. */
function textField(doc: Row, field: string): string | null {
  const v = doc[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string')
    throw new BadInputError(`${field}: expected text, got ${show(v)}`, field);
  return v !== '' && v !== 'N/A' ? v : null;
}

/**
 * The document id, which is the subject id on the Firestore store too: from
 * the export line's path, else user_uid (the old code kept them equal), else
 * an export tool's id field. A user_uid that disagrees with the path is said.
 */
function idOf(row: Row, doc: Row, notes: string[]): string {
  const path =
    typeof row.path === 'string'
      ? row.path
      : typeof doc.__name__ === 'string'
        ? doc.__name__
        : null;
  const uid = typeof doc.user_uid === 'string' && doc.user_uid !== '' ? doc.user_uid : null;
  if (path) {
    const id = path.split('/').pop()!;
    if (uid !== null && uid !== id)
      notes.push(
        `user_uid: "${uid}" differs from the document id "${id}"; the document id is used`,
      );
    return id;
  }
  if (uid !== null) return uid;
  for (const f of ['id', 'uid', '_id', '__id__']) if (typeof doc[f] === 'string') return doc[f];
  throw new BadInputError(
    'user_uid: missing, and the line has no document path or id to take it from',
    'user_uid',
  );
}

/** The stored limit of one feature, as the old code read it: -1 unlimited, missing: 10 reports. */
function storedLimit(limits: Row, feature: string): Limit | undefined {
  const v = limits[`${feature}_monthly`];
  if (typeof v === 'number' && Number.isFinite(v))
    return v === LEGACY_UNLIMITED ? null : Math.max(0, Math.floor(v));
  return LEGACY_DEFAULT_LIMITS[feature];
}

function overridesOf(policy: QuotaPolicy, plan: string, doc: Row, notes: string[]): Limits {
  const qc = isMap(doc.quotaclock) ? doc.quotaclock : null;
  if (qc) {
    // Written by quotaclock: its overrides are explicit.
    const out: Record<string, Limit> = {};
    for (const [f, v] of Object.entries(isMap(qc.overrides) ? qc.overrides : {})) {
      policy.catalog.assertFeature(f, `quotaclock.overrides.${f}`);
      if (v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 0)) out[f] = v;
      else
        throw new BadInputError(
          `quotaclock.overrides.${f}: expected integer ≥ 0 or null, got ${show(v)}`,
        );
    }
    return out;
  }
  if (doc.quota_limits !== undefined && !isMap(doc.quota_limits))
    notes.push(`quota_limits: ${show(doc.quota_limits)} is not a map; read as the old default`);
  const limits = isMap(doc.quota_limits) ? doc.quota_limits : {};
  const out: Record<string, Limit> = {};
  for (const f of policy.catalog.features) {
    const limit = storedLimit(limits, f);
    if (limit === undefined) continue;
    if (policy.catalog.limitFor(plan, {}, f) !== limit) out[f] = limit;
  }
  return out;
}

function usageOf(policy: QuotaPolicy, doc: Row, notes: string[]): Record<string, number> {
  const raw = doc.current_usage;
  if (raw === undefined || raw === null) return {};
  if (!isMap(raw)) {
    notes.push(`current_usage: ${show(raw)} is not a map; read as 0`);
    return {};
  }
  const out: Record<string, number> = {};
  for (const [f, v] of Object.entries(raw)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      notes.push(`current_usage.${f}: ${show(v)} is not a number; read as 0`);
      continue;
    }
    const n = Math.max(0, Math.floor(v));
    if (n === 0) continue;
    policy.catalog.assertFeature(f, `current_usage.${f}`);
    out[f] = n;
  }
  return out;
}

/**
 * One old document as an import row. This month's usage comes across as the
 * counters of the subject's period containing nowMs; usage of a period that
 * has already ended is left behind with a note (the old code zeroed it at its
 * next check, and the store has no open period to put it in).
 */
export function readLegacyDocument(policy: QuotaPolicy, row: Row, nowMs: number): LegacyReading {
  if (row.type === 'header' || row.type === 'footer') return { subject: null, notes: [] };
  const doc = row.type === 'document' && isMap(row.data) ? row.data : row;
  const unknown = Object.keys(doc).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0)
    throw new BadInputError(
      `${unknown[0]}: not a field of the userQuotas layout (known: ${LAYOUT_FIELDS.join(', ')}; the id may be in ${ID_FIELDS.join(', ')})`,
      unknown[0],
    );
  const notes: string[] = [];
  const id = idOf(row, doc, notes);
  let plan = LEGACY_DEFAULT_PLAN;
  if (typeof doc.plan_type === 'string' && doc.plan_type !== '') plan = doc.plan_type;
  else if (doc.plan_type !== undefined && doc.plan_type !== null)
    notes.push(`plan_type: ${show(doc.plan_type)} is not text; read as ${LEGACY_DEFAULT_PLAN}`);
  if (!policy.catalog.has(plan))
    throw new BadInputError(
      `plan_type: unknown plan "${plan}" (known plans: ${policy.catalog.planNames.join(', ')}); add it to the configuration's plans to keep it`,
      'plan_type',
    );
  const qc = isMap(doc.quotaclock) ? doc.quotaclock : null;
  const lifetime = isMap(doc.lifetime_stats) ? doc.lifetime_stats : {};
  const createdMs = instantField(doc, 'created_at');
  const memberSince = decodeInstant(lifetime.member_since) ?? null;
  const qcAnchor = qc ? (decodeInstant(qc.anchor) ?? null) : null;
  const anchorMs = qcAnchor ?? memberSince ?? createdMs;
  const timeZone = qc && typeof qc.time_zone === 'string' ? qc.time_zone : null;
  const email = textField(doc, 'user_email');
  if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email))
    throw new BadInputError(`user_email: not an email address: ${show(email)}`, 'user_email');
  const name = textField(doc, 'user_display_name') ?? textField(doc, 'user_displayName');
  if (doc.is_suspended !== undefined && typeof doc.is_suspended !== 'boolean')
    notes.push(
      `is_suspended: ${show(doc.is_suspended)} is not true or false; read as not suspended`,
    );
  const suspended = doc.is_suspended === true;

  // The period current_usage counts in, found as the Firestore store finds it.
  const ctx = { timeZone, anchorMs: anchorMs ?? nowMs };
  const startMs = instantField(doc, 'current_period_start');
  const endMs = instantField(doc, 'current_period_end');
  const lastReset = instantField(doc, 'last_reset');
  const updated = instantField(doc, 'updated_at');
  const countedAt = startMs ?? endMs ?? lastReset ?? updated ?? createdMs ?? nowMs;
  const counted = policy.periods.at(ctx, countedAt);
  const current = policy.periods.at(ctx, nowMs);
  let usage = usageOf(policy, doc, notes);
  if (counted.startMs > current.startMs) {
    throw new BadInputError(
      `current_period_start: the document counts in ${counted.key}, after the import's current period ${current.key} (check --now)`,
      'current_period_start',
    );
  }
  if (counted.startMs < current.startMs && Object.keys(usage).length > 0) {
    notes.push(
      `current_usage: counts ${counted.key}, which has ended; not imported (the old scripts zeroed it at the next check)`,
    );
    usage = {};
  }
  return {
    subject: {
      id,
      plan,
      overrides: overridesOf(policy, plan, doc, notes),
      ...(timeZone ? { timeZone } : {}),
      ...(anchorMs !== null ? { anchor: toIso(anchorMs) } : {}),
      email,
      name,
      suspended,
      suspendedReason: suspended ? textField(doc, 'suspension_reason') : null,
      ...(Object.keys(usage).length > 0 ? { usage } : {}),
    },
    notes,
  };
}
