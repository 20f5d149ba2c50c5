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
    for (const h of histories.get(d.id) ?? []) {
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
    out.push({ doc: d, periods });
  }
  return out;
}

/**
 * Usage counted before quotaclock's first write, per period start: the
 * earlier system's totals and the counters a document had when quotaclock
 * adopted it. Export turns them into events and verify counts them as such.
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
  return out;
}

/** Orders subjects as they were created (their seq); the earlier system's documents by creation time. */
export function subjectOrder(d: QuotaDoc): string {
  return (
    d.seq ?? `${Math.max(0, d.createdMs).toString(36).padStart(9, '0')}0000000000000000${d.id}`
  );
}

export const eventPeriodStart = (s: DocumentSnapshot) => toMs(s.get('period_start'));
