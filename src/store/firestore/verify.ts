import { AggregateField } from '@google-cloud/firestore';
import type { IntegrityViolation, RunRecord } from '../quota-store.js';
import { isUnfinishedRun, parseLedgerKey, type ClosedUsage } from '../shared/ledger-rules.js';
import { MAX_LISTED, violationsOf, type VerifyRows } from '../sql/verify-rules.js';
import { toRun } from './run-record.js';
import type { FsContext } from './context.js';
import { COLLECTIONS, markOf, toMs, type QuotaDoc } from './layout.js';
import { baselineOf, pages, readAllSubjects, type SubjectView } from './snapshot.js';

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The same checks as the SQL stores, their rows turned into violations by
 * the same function (violationsOf), so the order and the words match.
 * Firestore has no joins, so verify reads every user, history and event
 * document; it is an operator's command, not a hot path. The earlier
 * system's usage, which no event explains, counts as one event per period.
 */
export async function verifyFirestore(
  ctx: FsContext,
  nowMs: number,
): Promise<IntegrityViolation[]> {
  const subjects = await readAllSubjects(ctx, nowMs);
  const docs = subjects.map((v) => v.doc);
  const { sums, over } = await eventSums(ctx);
  const runs = (await ctx.db.collection(COLLECTIONS.runs).get()).docs
    .map((d) => toRun(d.id, d.data()))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return violationsOf({
    unknownPlans: docs
      .filter((d) => !ctx.policy.catalog.has(d.plan))
      .sort(byId)
      .slice(0, MAX_LISTED)
      .map((d) => ({ id: d.id, plan: d.plan })),
    mismatches: counterMismatches(subjects, sums),
    overLimit: over.sort(byId).slice(0, MAX_LISTED),
    openPeriods: openPeriods(docs, nowMs),
    unfinishedRuns: runs
      .filter((r) => isUnfinishedRun(r.status))
      .map((r) => ({ key: r.key, status: r.status, error: r.error })),
    runs,
    closedUsage: await closedUsage(ctx, runs),
  });
}

type OverLimit = VerifyRows['overLimit'][number];

/** Sums of event deltas per subject, period start and feature; over-limit grants on the way. */
async function eventSums(
  ctx: FsContext,
): Promise<{ sums: Map<string, number>; over: OverLimit[] }> {
  const sums = new Map<string, number>();
  const over: OverLimit[] = [];
  for await (const page of pages(ctx.db.collectionGroup(COLLECTIONS.events))) {
    for (const s of page) {
      const uid = s.ref.parent.parent!.id;
      const e = s.data()!;
      const start = toMs(e.period_start) ?? 0;
      const k = `${uid}\u0000${start}\u0000${e.feature}`;
      sums.set(k, (sums.get(k) ?? 0) + Number(e.delta ?? 0));
      if (
        e.kind === 'consume' &&
        e.delta > 0 &&
        typeof e.limit === 'number' &&
        e.used_after > e.limit
      ) {
        over.push({
          id: uid,
          feature: e.feature,
          period_start_ms: start,
          used_after: e.used_after,
          limit_at: e.limit,
        });
      }
    }
  }
  return { sums, over };
}

/**
 * Counters that differ from the sum of their events (the earlier system's
 * baseline counted as events), and event sums with no counter at all.
 * Adds the baselines to `sums`.
 */
function counterMismatches(
  subjects: readonly SubjectView[],
  sums: Map<string, number>,
): VerifyRows['mismatches'] {
  const mismatches: Array<VerifyRows['mismatches'][number]> = [];
  const seen = new Set<string>();
  for (const v of subjects) {
    const baseline = baselineOf(v);
    for (const b of baseline.values()) {
      for (const [f, n] of Object.entries(b.used)) {
        const k = `${v.doc.id}\u0000${b.period.startMs}\u0000${f}`;
        sums.set(k, (sums.get(k) ?? 0) + n);
      }
    }
    for (const p of v.periods) {
      for (const [f, used] of Object.entries(p.used)) {
        const k = `${v.doc.id}\u0000${p.period.startMs}\u0000${f}`;
        seen.add(k);
        const total = sums.get(k) ?? 0;
        if (used !== total)
          mismatches.push({
            id: v.doc.id,
            period_start_ms: p.period.startMs,
            feature: f,
            used,
            total,
          });
      }
    }
  }
  const known = new Set(subjects.map((v) => v.doc.id));
  for (const [k, total] of sums) {
    if (seen.has(k) || total === 0) continue;
    const [id, start, feature] = k.split('\u0000') as [string, string, string];
    if (!known.has(id)) continue;
    mismatches.push({ id, period_start_ms: Number(start), feature, used: 0, total });
  }
  mismatches.sort(
    (a, b) =>
      byId(a, b) || a.period_start_ms - b.period_start_ms || (a.feature < b.feature ? -1 : 1),
  );
  return mismatches.slice(0, MAX_LISTED);
}

function openPeriods(docs: readonly QuotaDoc[], nowMs: number): VerifyRows['openPeriods'] {
  return docs
    .map((d) => ({ id: d.id, mark: markOf(d) }))
    .filter((x) => x.mark.endMs <= nowMs)
    .sort((a, b) => a.mark.endMs - b.mark.endMs || byId(a, b))
    .slice(0, MAX_LISTED)
    .map((r) => ({ id: r.id, open_key: r.mark.key, open_end_ms: r.mark.endMs }));
}

/** The closed history documents of each finished run's key, summed per feature by aggregation queries. */
async function closedUsage(ctx: FsContext, runs: readonly RunRecord[]): Promise<ClosedUsage[]> {
  const features = ctx.policy.catalog.features;
  const closed: ClosedUsage[] = [];
  for (const r of runs) {
    if (isUnfinishedRun(r.status) || parseLedgerKey(r.key).shard !== null) continue;
    const sums = await ctx.db
      .collectionGroup(COLLECTIONS.history)
      .where('quotaclock.key', '==', r.key)
      .where('quotaclock.closed', '==', true)
      .aggregate(
        Object.fromEntries(
          features.map((f, i) => [`f${i}`, AggregateField.sum(`quotaclock.totals.${f}`)]),
        ),
      )
      .get();
    const data = sums.data() as Record<string, number | null>;
    features.forEach((f, i) => closed.push({ key: r.key, feature: f, used: data[`f${i}`] ?? 0 }));
  }
  return closed;
}
