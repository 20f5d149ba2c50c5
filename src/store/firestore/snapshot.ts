import { FieldPath, type DocumentSnapshot, type Query } from '@google-cloud/firestore';
import type { FsContext } from './context.js';
import {
  closingLimits,
  COLLECTIONS,
  legacyCounters,
  markOf,
  parseHistoryDoc,
  parseQuotaDoc,
  toMs,
  type HistoryDoc,
  type QuotaDoc,
} from './layout.js';
import type { Period } from '../../core/period.js';
import type { Limit } from '../../core/plans.js';

/** Pages through a query by document path, so memory holds one page at a time. */
export async function* pages(query: Query, size = 1000): AsyncGenerator<DocumentSnapshot[]> {
  let after: DocumentSnapshot | null = null;
  for (;;) {
    let q = query.orderBy(FieldPath.documentId()).limit(size);
    if (after) q = q.startAfter(after);
    const snap = await q.get();
    if (snap.size > 0) yield snap.docs;
    if (snap.size < size) return;
    after = snap.docs[snap.docs.length - 1]!;
  }
}

/** One period's counters of one subject, wherever they are kept. */
export interface CounterView {
  readonly period: Period;
  readonly used: Readonly<Record<string, number>>;
  /** Closed by quotaclock's job (or by the earlier system, for its own history). */
  readonly closed: boolean;
  readonly plan: string | null;
  readonly limits: Readonly<Record<string, Limit>> | null;
  readonly closedMs: number | null;
  /** Counted by the earlier system: no event explains these units. */
  readonly legacy: boolean;
}

/** A subject with every period it has counters or a close for, oldest first. */
export interface SubjectView {
  readonly doc: QuotaDoc;
  readonly periods: CounterView[];
  /**
   * Per period start: consumes the earlier system's code recorded (its
   * usage_history records) after quotaclock adopted the document, while old
   * writers still ran beside quotaclock. They count like events.
   */
  readonly oldWrites: ReadonlyMap<number, Record<string, number>>;
}

/** The old code's records in a history document written after quotaclock adopted its user. */
function oldWritesIn(d: QuotaDoc, h: HistoryDoc): number {
  const at = d.baseline?.atMs;
  if (at === null || at === undefined || !h.period) return 0;
  const { startMs, endMs } = h.period;
  return h.recordTimes.filter((t) => t >= at && t >= startMs && t < endMs).length;
}

/**
 * Reads every user document and every usage_history document: what export
 * and verify need. The earlier system's history of periods before the first
 * open one reads as closed, with today's plan standing in for the one of the time.
 */
export async function readAllSubjects(ctx: FsContext, nowMs: number): Promise<SubjectView[]> {
  const docs = new Map<string, QuotaDoc>();
  for await (const page of pages(ctx.quotas())) {
    for (const s of page) docs.set(s.id, parseQuotaDoc(ctx.policy, s, nowMs));
  }
  const histories = new Map<string, HistoryDoc[]>();
  for await (const page of pages(ctx.db.collectionGroup(COLLECTIONS.history))) {
    for (const s of page) {
      const uid = s.ref.parent.parent?.id;
      const owner = uid ? docs.get(uid) : undefined;
      if (!owner || s.ref.parent.parent?.parent.id !== COLLECTIONS.quotas) continue;
      const list = histories.get(uid!) ?? [];
      list.push(parseHistoryDoc(ctx.policy, owner, s));
      histories.set(uid!, list);
    }
  }
  const out: SubjectView[] = [];
  for (const d of docs.values()) {
    const mark = markOf(d);
    const periods: CounterView[] = [];
    const oldWrites = new Map<number, Record<string, number>>();
    for (const h of histories.get(d.id) ?? []) {
      const n = oldWritesIn(d, h);
      if (n > 0) oldWrites.set(h.period!.startMs, { stock_reports: n });
      if (!h.period || h.period.startMs === d.current.startMs) continue;
      if (h.managed) {
        const closed = h.closed && h.period.startMs < mark.startMs;
        if (!closed && Object.keys(h.used).length === 0) continue;
        periods.push({
          period: h.period,
          used: h.used,
          closed,
          plan: closed ? (h.plan ?? d.plan) : null,
          limits: closed ? (h.limits ?? {}) : null,
          closedMs: closed ? (h.closedMs ?? h.updatedMs ?? h.period.endMs) : null,
          legacy: false,
        });
      } else if (h.period.startMs < mark.startMs) {
        periods.push({
          period: h.period,
          used: legacyCounters(h),
          closed: true,
          plan: d.plan,
          limits: closingLimits(ctx.policy, d),
          closedMs: h.updatedMs ?? h.period.endMs,
          legacy: true,
        });
      }
    }
    if (Object.keys(d.currentUsed).length > 0) {
      periods.push({
        period: d.current,
        used: d.currentUsed,
        closed: false,
        plan: null,
        limits: null,
        closedMs: null,
        legacy: false,
      });
    }
    periods.sort((a, b) => a.period.startMs - b.period.startMs);
    out.push({ doc: d, periods, oldWrites });
  }
  return out;
}

/**
 * Usage counted outside quotaclock, per period start: the earlier system's
 * totals, the counters a document had when quotaclock adopted it, and what
 * old writers recorded after that. Export turns them into events and verify
 * counts them as such.
 */
export function baselineOf(
  v: SubjectView,
): Map<number, { period: Period; used: Record<string, number> }> {
  const out = new Map<number, { period: Period; used: Record<string, number> }>();
  for (const p of v.periods)
    if (p.legacy) out.set(p.period.startMs, { period: p.period, used: { ...p.used } });
  const d = v.doc;
  const b = d.adopted ? d.baseline : { startMs: d.current.startMs, used: d.currentUsed };
  if (b && Object.values(b.used).some((n) => n > 0)) {
    const period =
      v.periods.find((p) => p.period.startMs === b.startMs)?.period ??
      (b.startMs === d.current.startMs ? d.current : null);
    if (period) out.set(b.startMs, { period, used: { ...b.used } });
  }
  for (const [startMs, used] of v.oldWrites) {
    const p = v.periods.find((x) => x.period.startMs === startMs);
    // A period the earlier system closed itself already counts its whole total.
    if (!p || p.legacy) continue;
    const period = p.period;
    const entry = out.get(startMs) ?? { period, used: {} };
    for (const [f, n] of Object.entries(used)) entry.used[f] = (entry.used[f] ?? 0) + n;
    out.set(startMs, entry);
  }
  return out;
}

/** Orders subjects as they were created (their seq); the earlier system's documents by creation time. */
export function subjectOrder(d: QuotaDoc): string {
  return (
    d.seq ?? `${Math.max(0, d.createdMs).toString(36).padStart(9, '0')}0000000000000000${d.id}`
  );
}

export const eventPeriodStart = (s: DocumentSnapshot) => toMs(s.get('period_start'));
