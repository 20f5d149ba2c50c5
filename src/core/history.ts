import type { Limit, Limits } from './plans.js';
import { toIso } from './period.js';
import type { QuotaPolicy } from './policy.js';
import type { HistoryEntry } from './types.js';

/** A closed period as a store keeps it: the plan and limits in force when it closed. */
export interface ClosedPeriodRow {
  readonly start_ms: number;
  readonly end_ms: number;
  readonly period_key: string;
  readonly plan: string;
  /** JSON of the limits in force at close. */
  readonly limits: string;
}

export interface CounterRow {
  readonly period_start_ms: number;
  readonly period_end_ms: number;
  readonly period_key: string;
  readonly feature: string;
  readonly used: number;
}

/**
 * One subject's history, newest first: closed periods with the limits of
 * their close, and periods not closed yet (the current one, or one a reset
 * has still to reach) with the limits in force now.
 */
export function assembleHistory(
  policy: QuotaPolicy,
  subject: { readonly plan: string; readonly overrides: Limits },
  closed: readonly ClosedPeriodRow[],
  counters: readonly CounterRow[],
): HistoryEntry[] {
  const byStart = new Map<number, HistoryPeriod & { used: Record<string, number> }>();
  for (const c of closed) {
    byStart.set(c.start_ms, {
      key: c.period_key,
      start: c.start_ms,
      end: c.end_ms,
      plan: c.plan,
      limits: JSON.parse(c.limits) as Record<string, Limit>,
      used: {},
    });
  }
  for (const c of counters) {
    let e = byStart.get(c.period_start_ms);
    if (!e) {
      e = {
        key: c.period_key,
        start: c.period_start_ms,
        end: c.period_end_ms,
        plan: null,
        limits: null,
        used: {},
      };
      byStart.set(c.period_start_ms, e);
    }
    e.used[c.feature] = c.used;
  }
  return historyOf(
    policy,
    policy.catalog.limitsFor(subject.plan, subject.overrides),
    byStart.values(),
  );
}

/** One period of a subject's history, as a store found it. */
export interface HistoryPeriod {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** The plan at close; null while the period is not closed. */
  readonly plan: string | null;
  /** The limits at close; null while the period is not closed. */
  readonly limits: Limits | null;
  readonly used: Readonly<Record<string, number>>;
}

/**
 * The history entries of a subject's periods, newest first, with every
 * feature of the catalog; a period not closed yet shows `currentLimits`.
 */
export function historyOf(
  policy: QuotaPolicy,
  currentLimits: Limits,
  periods: Iterable<HistoryPeriod>,
): HistoryEntry[] {
  return [...periods]
    .sort((a, b) => b.start - a.start)
    .map((e) => {
      const limits = e.limits ?? currentLimits;
      const features: Record<string, { limit: Limit; used: number }> = {};
      for (const f of policy.catalog.features)
        features[f] = { limit: limits[f] ?? null, used: e.used[f] ?? 0 };
      return {
        key: e.key,
        start: toIso(e.start),
        end: toIso(e.end),
        closed: e.plan !== null,
        plan: e.plan,
        features,
      };
    });
}
