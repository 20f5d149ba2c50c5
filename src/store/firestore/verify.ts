import { AggregateField } from '@google-cloud/firestore';
import { toIso } from '../../core/period.js';
import {
  isUnfinishedRun,
  parseLedgerKey,
  usageAfterClose,
  type ClosedUsage,
} from '../shared/ledger-rules.js';
import { toRun } from './run-record.js';
import type { IntegrityViolation } from '../quota-store.js';
import type { FsContext } from './context.js';
import { COLLECTIONS, markOf, toMs, type QuotaDoc } from './layout.js';
import { baselineOf, pages, readAllSubjects, type SubjectView } from './snapshot.js';

const MAX_LISTED = 200;
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The same checks, in the same order and words, as the SQL stores. Firestore
 * has no joins, so verify reads every user, history and event document; it
 * is an operator's command, not a hot path. The earlier system's usage, which
 * no event explains, counts as one event per period.
 */
export async function verifyFirestore(
  ctx: FsContext,
  nowMs: number,
): Promise<IntegrityViolation[]> {
  const subjects = await readAllSubjects(ctx, nowMs);
  const docs = subjects.map((v) => v.doc);
  const { sums, over } = await eventSums(ctx);
  return [
    ...unknownPlans(ctx, docs),
    ...counterMismatches(subjects, sums),
    ...overLimitGrants(over),
    ...openPeriods(docs, nowMs),
    ...(await unfinishedRuns(ctx)),
    ...(await usageAfterCloseFirestore(ctx)),
  ];
}

function unknownPlans(ctx: FsContext, docs: readonly QuotaDoc[]): IntegrityViolation[] {
  return docs
    .filter((d) => !ctx.policy.catalog.has(d.plan))
    .sort(byId)
    .slice(0, MAX_LISTED)
    .map((d) => ({
      kind: 'unknown_plan',
      subject: d.id,
      message: `plan "${d.plan}" is not in the configuration`,
    }));
}

interface OverLimit {
  readonly id: string;
  readonly feature: string;
  readonly start: number;
  readonly usedAfter: number;
  readonly limit: number;
}

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
        over.push({ id: uid, feature: e.feature, start, usedAfter: e.used_after, limit: e.limit });
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
): IntegrityViolation[] {
  const mismatches: Array<{
    id: string;
    start: number;
    feature: string;
    used: number;
    total: number;
  }> = [];
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
          mismatches.push({ id: v.doc.id, start: p.period.startMs, feature: f, used, total });
      }
    }
  }
  const known = new Set(subjects.map((v) => v.doc.id));
  for (const [k, total] of sums) {
    if (seen.has(k) || total === 0) continue;
    const [id, start, feature] = k.split('\u0000') as [string, string, string];
    if (!known.has(id)) continue;
    mismatches.push({ id, start: Number(start), feature, used: 0, total });
  }
  mismatches.sort((a, b) => byId(a, b) || a.start - b.start || (a.feature < b.feature ? -1 : 1));
  return mismatches.slice(0, MAX_LISTED).map((m) => ({
    kind: 'counter_mismatch',
    subject: m.id,
    message: `${m.feature} in the period starting ${toIso(m.start)}: counter ${m.used}, events sum to ${m.total}`,
  }));
}

function overLimitGrants(over: OverLimit[]): IntegrityViolation[] {
  return over
    .sort(byId)
    .slice(0, MAX_LISTED)
    .map((r) => ({
      kind: 'over_limit',
      subject: r.id,
      message: `${r.feature} in the period starting ${toIso(r.start)}: a grant took usage to ${r.usedAfter}, over the limit ${r.limit} then in force`,
    }));
}

function openPeriods(docs: readonly QuotaDoc[], nowMs: number): IntegrityViolation[] {
  return docs
    .map((d) => ({ id: d.id, mark: markOf(d) }))
    .filter((x) => x.mark.endMs <= nowMs)
    .sort((a, b) => a.mark.endMs - b.mark.endMs || byId(a, b))
    .slice(0, MAX_LISTED)
    .map((r) => ({
      kind: 'open_period',
      subject: r.id,
      message: `period ${r.mark.key} ended ${toIso(r.mark.endMs)} and is not closed (run "quotaclock reset")`,
    }));
}

async function unfinishedRuns(ctx: FsContext): Promise<IntegrityViolation[]> {
  const runs = await ctx.db
    .collection(COLLECTIONS.runs)
    .where('status', 'in', ['running', 'failed'])
    .get();
  return [...runs.docs].sort(byId).map((s) => {
    const r = s.data();
    return {
      kind: 'run_unfinished',
      subject: null,
      message: `run ${s.id} is ${r.status}${r.error ? `: ${r.error}` : ''} (rerun "quotaclock reset" to finish it)`,
    };
  });
}

/** The closed history documents of each finished run's key, summed per feature by aggregation queries. */
async function usageAfterCloseFirestore(ctx: FsContext): Promise<IntegrityViolation[]> {
  const runs = (await ctx.db.collection(COLLECTIONS.runs).get()).docs.map((d) =>
    toRun(d.id, d.data()),
  );
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
  return usageAfterClose(runs, closed);
}
