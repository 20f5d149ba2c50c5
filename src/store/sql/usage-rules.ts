import type { Actor, UsageEventView } from '../../core/admin-types.js';
import { CLI_ACTOR } from '../../core/admin-types.js';
import { answerClock, type AnswerClock } from '../../core/answer-clock.js';
import type { Period } from '../../core/period.js';
import { featureStatus, periodView, type QuotaPolicy } from '../../core/policy.js';
import type {
  FeatureStatus,
  Page,
  PeriodView,
  RefundResult,
  StatusResult,
} from '../../core/types.js';
import { REFUND_KEY_PREFIX } from '../../core/validate.js';
import {
  refundAudit,
  resetAudit,
  toEventView,
  type AuditDraft,
  type EventViewRow,
} from '../admin-mapping.js';
import type { UsageBucket } from '../quota-store.js';
import { parseOverrides } from '../row-mapping.js';

/**
 * The audit entry of a manual reset, and who it is recorded under: a reason
 * given with the reset goes on the actor (the CLI's, when none is given).
 */
export function resetAuditOf(
  id: string,
  periodKey: string,
  cleared: Record<string, number>,
  reason: string | undefined,
  operation: string | undefined,
  actor: Actor | undefined,
): { draft: AuditDraft; actor: Actor | undefined } {
  return {
    draft: {
      ...resetAudit(id, periodKey, cleared),
      detail: { period: periodKey, cleared, reason: reason ?? null, operation: operation ?? null },
    },
    actor: reason ? { ...(actor ?? CLI_ACTOR), reason } : actor,
  };
}

/** A counter of the current period with its subject's plan, as the at-limit query reads it (ordered by id). */
export interface CounterOfSubject {
  id: string;
  plan: string;
  overrides: string;
  feature: string;
  used: number;
}

/**
 * The ids (at most `max`, in the rows' order) of subjects with at least one
 * feature at or over its limit; subjects on plans no longer configured are
 * left out.
 */
export function atLimitIds(
  policy: QuotaPolicy,
  rows: readonly CounterOfSubject[],
  max: number,
): string[] {
  const ids: string[] = [];
  for (const r of rows) {
    if (ids.length >= max) break;
    if (!policy.catalog.has(r.plan)) continue;
    const limit = policy.catalog.limitFor(r.plan, parseOverrides(r.overrides), r.feature);
    if (limit !== null && r.used >= limit && ids[ids.length - 1] !== r.id) ids.push(r.id);
  }
  return ids;
}

/**
 * One page of a subject's events, newest first, from up to limit + 1 rows:
 * the extra row only tells that a next page exists.
 */
export function eventPage(
  rows: readonly EventViewRow[],
  limit: number,
  subjectId: string,
  keyOf: (periodStartMs: number) => string,
): Page<UsageEventView> {
  const items = rows
    .slice(0, limit)
    .map((r) => toEventView(r, subjectId, keyOf(Number(r.period_start_ms))));
  return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
}

/** The consume event a refund gives back. */
export interface RefundedConsume {
  readonly id: number;
  readonly feature: string;
  readonly period_start_ms: number;
  readonly period_end_ms: number;
  readonly delta: number;
}

/**
 * What refunding a consume does, given the counter's current value: nothing
 * (`write` null) when it was denied or already refunded; otherwise the
 * counter's new value, the refund event to record and what its audit entry
 * says. A manual reset may have cleared the units since, so a counter is
 * never driven below zero.
 */
export function refundOf(
  original: RefundedConsume,
  key: string,
  current: number,
  alreadyRefunded: boolean,
  answer: { period: PeriodView; clock: AnswerClock; nowMs: number },
): {
  result: RefundResult;
  write: { used: number; event: RefundEvent; audit: RefundAuditFields } | null;
} {
  const { period, clock, nowMs } = answer;
  if (alreadyRefunded || original.delta === 0) {
    const result = {
      refunded: false,
      amount: 0,
      used: current,
      period,
      ...clock,
      ...(alreadyRefunded ? { alreadyRefunded: true } : {}),
    };
    return { result, write: null };
  }
  const back = Math.min(original.delta, current);
  const used = current - back;
  const event: RefundEvent = {
    kind: 'refund',
    feature: original.feature,
    start: original.period_start_ms,
    end: original.period_end_ms,
    at: nowMs,
    amount: original.delta,
    delta: -back,
    usedAfter: used,
    key: `${REFUND_KEY_PREFIX}${key}`,
    meta: JSON.stringify({ refunds: original.id }),
  };
  const audit = {
    key,
    feature: original.feature,
    period: period.key,
    before: current,
    after: used,
  };
  return {
    result: { refunded: true, amount: back, used, period, ...clock },
    write: { used, event, audit },
  };
}

/** What a refund's audit entry records (refundAudit's second argument). */
export type RefundAuditFields = Parameters<typeof refundAudit>[1];

/** A refund's event row, as both engines' event inserts take it (without the subject's rid). */
export interface RefundEvent {
  readonly kind: 'refund';
  readonly feature: string;
  readonly start: number;
  readonly end: number;
  readonly at: number;
  readonly amount: number;
  readonly delta: number;
  readonly usedAfter: number;
  readonly key: string;
  readonly meta: string;
}

/** A subject's status in one period from its counters there. */
export function statusOf(
  policy: QuotaPolicy,
  s: {
    id: string;
    plan: string;
    overrides: string;
    suspended: boolean;
    suspended_reason: string | null;
    time_zone: string | null;
  },
  period: Period,
  counters: readonly { feature: string; used: number }[],
  nowMs: number,
): StatusResult {
  const usedBy = new Map(counters.map((r) => [r.feature, r.used]));
  const overrides = parseOverrides(s.overrides);
  const features: Record<string, FeatureStatus> = {};
  for (const f of policy.catalog.features) {
    features[f] = featureStatus(policy.catalog.limitFor(s.plan, overrides, f), usedBy.get(f) ?? 0);
  }
  return {
    subject: s.id,
    plan: s.plan,
    suspended: s.suspended,
    suspendedReason: s.suspended_reason,
    period: periodView(period),
    ...answerClock(s.time_zone, policy.rule.timeZone, period, nowMs),
    features,
  };
}

/** The event a manual reset records for one feature it clears. */
export function manualResetEvent(
  feature: string,
  used: number,
  period: Period,
  nowMs: number,
  reason: string | undefined,
) {
  return {
    kind: 'reset' as const,
    feature,
    start: period.startMs,
    end: period.endMs,
    at: nowMs,
    amount: used,
    delta: -used,
    usedAfter: 0,
    meta: reason ? JSON.stringify({ reason }) : null,
  };
}

/** Usage buckets from rows numbered from fromMs in steps of bucketMs. */
export function bucketsOf(
  rows: readonly { b: number; feature: string; used: number; denied: number }[],
  fromMs: number,
  bucketMs: number,
): UsageBucket[] {
  return rows.map((r) => ({
    startMs: fromMs + r.b * bucketMs,
    feature: r.feature,
    used: r.used,
    denied: r.denied,
  }));
}
