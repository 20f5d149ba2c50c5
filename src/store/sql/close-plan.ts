import { addPreviewPeriod, addUsage, type CloseTotals } from '../../core/close-summary.js';
import { endedOpenPeriods, nextMark } from '../../core/closing.js';
import type { Limits } from '../../core/plans.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { PreviewBatchResult } from '../quota-store.js';
import { parseOverrides } from '../row-mapping.js';

/** The subject columns a close reads, in both SQL engines' `subjects` table. */
export const CLOSE_COLUMNS =
  'rid, plan, overrides, time_zone, anchor_ms, closed_through_ms, open_end_ms, open_key';

/** A subject's open mark as the SQL engines store it. */
export interface CloseSubjectRow {
  rid: number;
  plan: string;
  overrides: string;
  time_zone: string | null;
  anchor_ms: number;
  closed_through_ms: number;
  open_end_ms: number;
  open_key: string;
}

/** A close row: a subject joined with one of its counters of the open period (none: feature null). */
export interface CloseRow extends CloseSubjectRow {
  feature: string | null;
  used: number | null;
}

/** One subject to close, with its usage of the open period per feature. */
export interface SubjectUsage {
  readonly head: CloseSubjectRow;
  readonly used: Map<string, number>;
}

/** Subjects that move their mark identically; each group is one set-based statement. */
export interface MoveGroup {
  readonly fromStart: number;
  readonly fromEnd: number;
  readonly key: string;
  readonly toStart: number;
  readonly toEnd: number;
  readonly toKey: string;
  readonly plan: string;
  /** The limits the period closes under, as stored in closed_periods. */
  readonly limits: string;
  readonly rids: number[];
  readonly usage: SubjectUsage[];
}

/**
 * Close rows (ordered by rid, one row per counter) folded into one entry per
 * subject, in the same order.
 */
export function subjectsOf(rows: readonly CloseRow[]): SubjectUsage[] {
  const out: SubjectUsage[] = [];
  for (const r of rows) {
    let last = out[out.length - 1];
    if (!last || last.head.rid !== r.rid) {
      last = { head: r, used: new Map() };
      out.push(last);
    }
    if (r.feature !== null) last.used.set(r.feature, r.used ?? 0);
  }
  return out;
}

/**
 * The limits a subject's period closes under: its plan's with its overrides,
 * or none for a plan no longer in the configuration (verify reports it).
 */
export function closingLimits(policy: QuotaPolicy, s: { plan: string; overrides: string }): Limits {
  return policy.catalog.has(s.plan)
    ? policy.catalog.limitsFor(s.plan, parseOverrides(s.overrides))
    : {};
}

/** Adds one closed subject's usage, feature by feature, to the run's totals. */
export function addClosedSubject(policy: QuotaPolicy, into: CloseTotals, u: SubjectUsage): void {
  const limits = closingLimits(policy, u.head);
  for (const f of policy.catalog.features) {
    addUsage(into, u.head.plan, f, u.used.get(f) ?? 0, limits[f] ?? null);
  }
}

/** The totals of closing all these subjects. */
export function closedTotals(policy: QuotaPolicy, subjects: readonly SubjectUsage[]): CloseTotals {
  const summary: CloseTotals = {};
  for (const u of subjects) addClosedSubject(policy, summary, u);
  return summary;
}

/**
 * The subjects grouped by how their mark moves: the same period, the same
 * next period, the same plan and limits. Groups keep the order of their
 * first subject, and subjects their order within a group.
 */
export function moveGroups(policy: QuotaPolicy, subjects: readonly SubjectUsage[]): MoveGroup[] {
  const groups = new Map<string, MoveGroup>();
  for (const u of subjects) {
    const s = u.head;
    const to = nextMark(
      policy,
      { timeZone: s.time_zone, anchorMs: s.anchor_ms },
      { closedThroughMs: s.closed_through_ms, openEndMs: s.open_end_ms, openKey: s.open_key },
    );
    const limits = JSON.stringify(closingLimits(policy, s));
    const id = `${s.closed_through_ms}|${s.open_end_ms}|${to.openEndMs}|${s.plan}|${limits}`;
    let g = groups.get(id);
    if (!g) {
      g = {
        fromStart: s.closed_through_ms,
        fromEnd: s.open_end_ms,
        key: s.open_key,
        toStart: to.closedThroughMs,
        toEnd: to.openEndMs,
        toKey: to.openKey,
        plan: s.plan,
        limits,
        rids: [],
        usage: [],
      };
      groups.set(id, g);
    }
    g.rids.push(s.rid);
    g.usage.push(u);
  }
  return [...groups.values()];
}

/** A page's next cursor: the last rid read, or null once a page comes back short. */
export function nextRidCursor(rows: readonly { rid: number }[], pageSize: number): string | null {
  return rows.length < pageSize ? null : String(rows[rows.length - 1]!.rid);
}

/** A rid cursor as the SQL reads it: rids after it; null is the start. */
export function ridAfter(cursor: string | null): number {
  return cursor === null ? 0 : Number(cursor);
}

/**
 * Adds to a dry run's preview every period of this subject that has ended
 * by nowMs and is not closed; `usedOf` gives its usage in one of them.
 */
export function addPreviewSubject(
  policy: QuotaPolicy,
  byKey: PreviewBatchResult['byKey'],
  s: CloseSubjectRow,
  nowMs: number,
  usedOf: (periodStartMs: number, feature: string) => number,
): void {
  const periods = endedOpenPeriods(
    policy,
    { timeZone: s.time_zone, anchorMs: s.anchor_ms },
    { closedThroughMs: s.closed_through_ms, openEndMs: s.open_end_ms, openKey: s.open_key },
    nowMs,
  );
  const limits = closingLimits(policy, s);
  for (const p of periods) {
    addPreviewPeriod(byKey, p, s.plan, policy.catalog.features, limits, (f) =>
      usedOf(p.startMs, f),
    );
  }
}
