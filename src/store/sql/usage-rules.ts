import type { Actor, UsageEventView } from '../../core/admin-types.js';
import { CLI_ACTOR } from '../../core/admin-types.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { Page } from '../../core/types.js';
import { resetAudit, toEventView, type AuditDraft, type EventViewRow } from '../admin-mapping.js';
import { parseOverrides } from '../row-mapping.js';

/**
 * The audit entry of a manual reset, and who it is recorded under: a reason
 * given with the reset goes on the actor (the CLI's, when none is given).
 */
export function subjectResetAudit(
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
