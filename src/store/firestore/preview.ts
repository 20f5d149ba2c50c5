import { addPreviewPeriod } from '../../core/close-summary.js';
import { endedOpenPeriods } from '../../core/closing.js';
import type { Period } from '../../core/period.js';
import type { PreviewBatchResult } from '../quota-store.js';
import { decodeCursor, encodeCursor, scanPage, START } from './candidates.js';
import type { FsContext } from './context.js';
import {
  closingLimits,
  ctxOf,
  legacyCounters,
  markOf,
  parseHistoryDoc,
  type QuotaDoc,
} from './layout.js';

/**
 * Read-only: every period a real run would close for one batch of subjects
 * with ended open periods, oldest first, with what each used.
 */
export async function previewBatch(
  ctx: FsContext,
  nowMs: number,
  cursor: string | null,
  batchSize: number,
): Promise<PreviewBatchResult> {
  const page = await scanPage(
    ctx,
    nowMs,
    cursor === null ? START : decodeCursor(cursor),
    batchSize,
  );
  const byKey: PreviewBatchResult['byKey'] = {};
  // Counters of open periods other than the current one are in usage_history.
  const wanted: Array<{ d: QuotaDoc; p: Period }> = [];
  const plans = page.docs.map((d) => {
    const periods = endedOpenPeriods(
      ctx.policy,
      ctxOf(d),
      {
        closedThroughMs: markOf(d).startMs,
        openEndMs: markOf(d).endMs,
        openKey: markOf(d).key,
      },
      nowMs,
    );
    for (const p of periods) if (p.startMs < d.current.startMs) wanted.push({ d, p });
    return { d, periods };
  });
  const snaps = wanted.length
    ? await ctx.db.getAll(...wanted.map((w) => ctx.historyRef(w.d.id, w.p.key)))
    : [];
  const usedOf = new Map<string, Record<string, number>>();
  wanted.forEach((w, i) => {
    const snap = snaps[i];
    const h = snap?.exists ? parseHistoryDoc(ctx.policy, w.d, snap) : null;
    usedOf.set(`${w.d.id}\u0000${w.p.startMs}`, h ? (h.managed ? h.used : legacyCounters(h)) : {});
  });
  for (const { d, periods } of plans) {
    const limits = closingLimits(ctx.policy, d);
    for (const p of periods) {
      const used =
        p.startMs === d.current.startMs
          ? d.currentUsed
          : p.startMs > d.current.startMs
            ? {}
            : (usedOf.get(`${d.id}\u0000${p.startMs}`) ?? {});
      addPreviewPeriod(byKey, p, d.plan, ctx.policy.catalog.features, limits, (f) => used[f] ?? 0);
    }
  }
  return { byKey, cursor: encodeCursor(page.next) };
}
