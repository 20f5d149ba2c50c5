import { keyBoundEndingBy } from '../../core/period-key.js';
import type { DocumentSnapshot } from '@google-cloud/firestore';
import { closeBulkWriter } from './bulk-writer.js';
import type { FsContext } from './context.js';
import {
  COLLECTIONS,
  markOf,
  parseHistoryDoc,
  parseQuotaDoc,
  toMs,
  ts,
  type QuotaDoc,
} from './layout.js';

/**
 * Deletes closed history and usage events of periods that ended by
 * olderThanMs (never a subject's open period), and the threshold notices of
 * those periods. `archive` hears the consume counts of the events deleted, so consume
 * totals outlive their events.
 */
export async function pruneClosed(
  ctx: FsContext,
  bulkOpsPerSecond: number,
  olderThanMs: number,
  archive: (gone: readonly DocumentSnapshot[]) => Promise<void>,
): Promise<{ periods: number; events: number }> {
  const bound = keyBoundEndingBy(ctx.policy.periods, olderThanMs);
  // Each parent's first open period: nothing at or after it is pruned.
  const parents = new Map<string, QuotaDoc | null>();
  const readParents = async (ids: string[]) => {
    const missing = [...new Set(ids)].filter((id) => !parents.has(id));
    for (let i = 0; i < missing.length; i += 300) {
      const chunk = missing.slice(i, i + 300);
      const snaps = await ctx.db.getAll(...chunk.map((id) => ctx.quotaRef(id)));
      snaps.forEach((s, j) =>
        parents.set(chunk[j]!, s.exists ? parseQuotaDoc(ctx.policy, s, olderThanMs) : null),
      );
    }
  };
  const markStart = (uid: string) => {
    const d = parents.get(uid);
    return d ? markOf(d).startMs : null;
  };
  const bw = closeBulkWriter(ctx, bulkOpsPerSecond);
  let periods = 0;
  let events = 0;
  const deletes: Array<Promise<unknown>> = [];
  // Closed periods: quotaclock's history documents, and the earlier system's of periods before the mark.
  const history = await ctx.db
    .collectionGroup(COLLECTIONS.history)
    .where('period', '<=', bound)
    .get();
  await readParents(history.docs.map((s) => s.ref.parent.parent!.id));
  for (const snap of history.docs) {
    const owner = parents.get(snap.ref.parent.parent!.id);
    if (!owner) continue;
    const mark = markOf(owner).startMs;
    const h = parseHistoryDoc(ctx.policy, owner, snap);
    if (!h.period || h.period.endMs > olderThanMs || h.period.endMs > mark) continue;
    if (h.managed && !h.closed) continue;
    deletes.push(bw.delete(snap.ref));
    periods += 1;
  }
  const ev = await ctx.db
    .collectionGroup(COLLECTIONS.events)
    .where('period_end', '<=', ts(olderThanMs))
    .select('period_end', 'kind', 'delta')
    .get();
  const gone: DocumentSnapshot[] = [];
  await readParents(ev.docs.map((s) => s.ref.parent.parent!.id));
  for (const snap of ev.docs) {
    const mark = markStart(snap.ref.parent.parent!.id);
    const end = toMs(snap.get('period_end'));
    if (mark === null || mark === undefined || end === null || end > mark) continue;
    deletes.push(bw.delete(snap.ref).then(() => gone.push(snap)));
    events += 1;
  }
  // Threshold notices of periods that ended before the cut can never be claimed again.
  const notices = await ctx.db
    .collection('quotaclockNotices')
    .where('period_end', '<=', ts(olderThanMs))
    .select()
    .get();
  for (const snap of notices.docs) deletes.push(bw.delete(snap.ref));
  await bw.close();
  const settled = await Promise.allSettled(deletes);
  await archive(gone);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return { periods, events };
}
