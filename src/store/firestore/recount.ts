import { AggregateField } from '@google-cloud/firestore';
import { addUsage, type CloseTotals } from '../../core/close-summary.js';
import type { FsContext } from './context.js';
import { COLLECTIONS } from './layout.js';

/** Subjects and totals of every close recorded for a key, from aggregation queries over usage_history. */
export async function recountClosed(
  ctx: FsContext,
  key: string,
): Promise<{ subjects: number; summary: CloseTotals } | null> {
  const base = ctx.db
    .collectionGroup(COLLECTIONS.history)
    .where('quotaclock.key', '==', key)
    .where('quotaclock.closed', '==', true);
  const total = (await base.count().get()).data().count;
  const summary: CloseTotals = {};
  let counted = 0;
  for (const plan of ctx.policy.catalog.planNames) {
    const q = base.where('quotaclock.plan', '==', plan);
    const n = (await q.count().get()).data().count;
    if (n === 0) continue;
    counted += n;
    const byFeature: Record<string, { subjects: number; used: number; atLimit: number }> = {};
    for (const f of ctx.policy.catalog.features) {
      const agg = await q
        .aggregate({
          used: AggregateField.sum(`quotaclock.totals.${f}`),
          atLimit: AggregateField.sum(`quotaclock.at_limit.${f}`),
        })
        .get();
      byFeature[f] = {
        subjects: n,
        used: agg.data().used ?? 0,
        atLimit: agg.data().atLimit ?? 0,
      };
    }
    summary[plan] = byFeature;
  }
  if (counted !== total) {
    // Plans the configuration no longer has: read those documents.
    const rest = await base.get();
    for (const snap of rest.docs) {
      const qc = snap.get('quotaclock') as Record<string, unknown>;
      const plan = String(qc.plan);
      if (ctx.policy.catalog.has(plan)) continue;
      const totals = (qc.totals ?? {}) as Record<string, number>;
      const limits = (qc.limits ?? {}) as Record<string, number | null>;
      for (const f of ctx.policy.catalog.features)
        addUsage(summary, plan, f, totals[f] ?? 0, limits[f] ?? null);
    }
  }
  return { subjects: total, summary };
}
