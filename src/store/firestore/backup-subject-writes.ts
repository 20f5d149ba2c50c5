import type { DocumentData, DocumentReference } from '@google-cloud/firestore';
import type { Limit } from '../../core/plans.js';
import type { Period } from '../../core/period.js';
import { isAtLimit, type QuotaPolicy } from '../../core/policy.js';
import type { BackupRecord } from '../quota-store.js';
import type { FsContext } from './context.js';
import { legacyEnd, legacyLimitsMap, lifetimeField, limitsOf, totalsOf, ts } from './layout.js';

export type Rec = BackupRecord & Record<string, unknown>;

export interface DocWrite {
  readonly ref: DocumentReference;
  readonly data: DocumentData;
}

/** One restored subject, gathered from its records before anything is written. */
export interface RestoredSubject {
  readonly rec: Rec;
  readonly seq: string;
  readonly counters: Map<number, { period: Period; used: Record<string, number> }>;
  readonly closed: Map<number, Rec>;
  readonly lifetime: Record<string, number>;
}

export const ms = (v: unknown) => Date.parse(String(v));

/** A restored subject's user document and its usage_history documents, in the earlier system's layout. */
export function subjectWrites(ctx: FsContext, id: string, b: RestoredSubject): DocWrite[] {
  const r = b.rec;
  const mark: Period = {
    startMs: ms(r.closedThrough),
    endMs: ms(r.openEnd),
    key: String(r.openKey),
  };
  let current = mark;
  for (const cv of b.counters.values())
    if (cv.period.startMs > current.startMs) current = cv.period;
  return [
    { ref: ctx.quotaRef(id), data: quotaDoc(ctx.policy, id, b, mark, current) },
    ...historyWrites(ctx, id, b, current),
  ];
}

/** userQuotas/{id}: the current period's counters in place, an older open period in quotaclock's fields. */
function quotaDoc(
  policy: QuotaPolicy,
  id: string,
  b: RestoredSubject,
  mark: Period,
  current: Period,
): DocumentData {
  const r = b.rec;
  const overrides = (r.overrides ?? {}) as Record<string, Limit>;
  const plan = String(r.plan);
  const lifetime: Record<string, unknown> = {};
  for (const f of policy.catalog.features)
    lifetime[lifetimeField(f)] = Math.max(0, b.lifetime[f] ?? 0);
  lifetime.member_since = ts(ms(r.createdAt));
  const name = r.name as string | null;
  return {
    user_uid: id,
    plan_type: plan,
    plan_updated_at: ts(ms(r.createdAt)),
    quota_limits: legacyLimitsMap(limitsOf(policy, plan, overrides)),
    current_usage: { ...(b.counters.get(current.startMs)?.used ?? {}) },
    current_period_start: ts(current.startMs),
    current_period_end: legacyEnd(current),
    last_reset: ts(current.startMs),
    created_at: ts(ms(r.createdAt)),
    updated_at: ts(ms(r.createdAt)),
    is_suspended: r.suspended === true,
    suspension_reason: r.suspendedReason ?? null,
    lifetime_stats: lifetime,
    ...(r.email ? { user_email: r.email } : {}),
    ...(name ? { user_display_name: name, user_displayName: name } : {}),
    quotaclock: {
      v: 1,
      seq: b.seq,
      overrides: { ...overrides },
      time_zone: r.timeZone ?? null,
      anchor: ts(ms(r.anchor)),
      baseline: null,
      ...(mark.startMs < current.startMs
        ? { open_start: ts(mark.startMs), open_end: ts(mark.endMs), open_key: mark.key }
        : {}),
    },
  };
}

/** usage_history/{key} of every period but the current one: its counters, and its close if it closed. */
function historyWrites(
  ctx: FsContext,
  id: string,
  b: RestoredSubject,
  current: Period,
): DocWrite[] {
  const policy = ctx.policy;
  const out: DocWrite[] = [];
  const starts = new Set([...b.counters.keys(), ...b.closed.keys()]);
  for (const start of starts) {
    if (start === current.startMs) continue;
    const cv = b.counters.get(start);
    const cp = b.closed.get(start);
    const period: Period = cv?.period ?? {
      startMs: start,
      endMs: ms(cp!.end),
      key: String(cp!.key),
    };
    const used = cv?.used ?? {};
    const limits = (cp?.limits ?? {}) as Record<string, Limit>;
    const atLimit: Record<string, number> = {};
    for (const f of policy.catalog.features)
      atLimit[f] = isAtLimit(limits[f] ?? null, used[f] ?? 0) ? 1 : 0;
    const summary: Record<string, number> = {};
    for (const f of policy.catalog.features) summary[lifetimeField(f)] = used[f] ?? 0;
    out.push({
      ref: ctx.historyRef(id, period.key),
      data: {
        period: period.key,
        user_uid: id,
        updated_at: ts(cp ? ms(cp.closedAt) : period.endMs),
        summary,
        quotaclock: {
          key: period.key,
          start: ts(period.startMs),
          end: ts(period.endMs),
          used: { ...used },
          totals: totalsOf(policy, used),
          closed: !!cp,
          ...(cp
            ? {
                closed_at: ts(ms(cp.closedAt)),
                plan: String(cp.plan),
                limits: { ...limits },
                at_limit: atLimit,
              }
            : {}),
        },
      },
    });
  }
  return out;
}
