import { FieldValue, type DocumentSnapshot } from '@google-cloud/firestore';
import { nextMark } from '../../core/closing.js';
import type { Period } from '../../core/period.js';
import { isAtLimit, type QuotaPolicy } from '../../core/policy.js';
import type { FsContext } from './context.js';
import {
  adoptionFields,
  closingLimits,
  ctxOf,
  legacyCounters,
  legacyEnd,
  markOf,
  parseHistoryDoc,
  setQc,
  totalsOf,
  ts,
  type DocFields,
  type QuotaDoc,
} from './layout.js';

/** One subject about to be closed: what was read, and the writes that close it. */
export interface Closing {
  readonly doc: QuotaDoc;
  readonly mark: Period;
  readonly used: Record<string, number>;
  readonly limits: Record<string, number | null>;
  /** The history document as read, when it was read. */
  history: DocumentSnapshot | null;
}

/** What closing one subject's first open period means for it: its counters and limits of that period. */
export async function prepareClosings(
  ctx: FsContext,
  docs: readonly QuotaDoc[],
): Promise<Closing[]> {
  const needHistory = docs.filter((d) => markOf(d).startMs !== d.current.startMs);
  const snaps = needHistory.length
    ? await ctx.db.getAll(...needHistory.map((d) => ctx.historyRef(d.id, markOf(d).key)))
    : [];
  const byId = new Map(needHistory.map((d, i) => [d.id, snaps[i]!]));
  return docs.map((d) => {
    const mark = markOf(d);
    let used: Record<string, number>;
    let history: DocumentSnapshot | null = null;
    if (mark.startMs === d.current.startMs) {
      used = { ...d.currentUsed };
    } else {
      history = byId.get(d.id) ?? null;
      const h = history?.exists ? parseHistoryDoc(ctx.policy, d, history) : null;
      used = h ? (h.managed ? { ...h.used } : legacyCounters(h)) : {};
    }
    return { doc: d, mark, used, limits: closingLimits(ctx.policy, d), history };
  });
}

/** The quotaclock map of a closed period's history document: what it used, against which limits. */
export function historyMap(policy: QuotaPolicy, c: Closing, nowMs: number) {
  const atLimit: Record<string, number> = {};
  for (const f of policy.catalog.features)
    atLimit[f] = isAtLimit(c.limits[f] ?? null, c.used[f] ?? 0) ? 1 : 0;
  return {
    key: c.mark.key,
    start: ts(c.mark.startMs),
    end: ts(c.mark.endMs),
    used: { ...c.used },
    totals: totalsOf(policy, c.used),
    closed: true,
    closed_at: ts(nowMs),
    plan: c.doc.plan,
    limits: { ...c.limits },
    at_limit: atLimit,
  };
}

/** Moves the subject's first open period forward: the update that closes it, conditional on the version read. */
export function markFields(policy: QuotaPolicy, c: Closing, nowMs: number): DocFields {
  const d = c.doc;
  const next = nextMark(policy, ctxOf(d), {
    closedThroughMs: c.mark.startMs,
    openEndMs: c.mark.endMs,
    openKey: c.mark.key,
  });
  const fields = adoptionFields(d, nowMs);
  if (!d.stash) {
    // The current period itself closes: the counters start again in the next one.
    fields.current_period_start = ts(next.closedThroughMs);
    fields.current_period_end = legacyEnd({
      startMs: next.closedThroughMs,
      endMs: next.openEndMs,
      key: next.openKey,
    });
    fields.current_usage = {};
    fields.last_reset = ts(nowMs);
  } else if (next.closedThroughMs >= d.current.startMs) {
    for (const f of ['open_start', 'open_end', 'open_key']) setQc(fields, f, FieldValue.delete());
  } else {
    setQc(fields, 'open_start', ts(next.closedThroughMs));
    setQc(fields, 'open_end', ts(next.openEndMs));
    setQc(fields, 'open_key', next.openKey);
  }
  fields.updated_at = ts(nowMs);
  return fields;
}
