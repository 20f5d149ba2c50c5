import { createHash } from 'node:crypto';
import {
  AggregateField,
  FieldPath,
  FieldValue,
  type DocumentSnapshot,
  type Query,
} from '@google-cloud/firestore';
import type { Limit } from '../../core/plans.js';
import type { Subject } from '../../core/types.js';
import type {
  ConsumeTotals,
  IntegrityViolation,
  JobMetric,
  JobMetricSample,
  StoreMonitoring,
  SubjectUsage,
  ThresholdNotice,
  UsageBucket,
} from '../quota-store.js';
import { GRPC, grpcCode } from './client.js';
import { PRUNED, labelKey } from '../row-mapping.js';
import type { FsContext } from './context.js';
import {
  closingLimits,
  COLLECTIONS,
  ctxOf,
  legacyCounters,
  limitOf,
  limitsOf,
  markOf,
  parseHistoryDoc,
  parseQuotaDoc,
  subjectOf,
  toCount,
  toMs,
  ts,
  type QuotaDoc,
} from './layout.js';
import { pages } from './snapshot.js';
import { verifyFirestore } from './verify.js';

const METRICS = 'quotaclockMetrics';
const PAGE = 1000;

const metricId = (name: string, labels: string) =>
  createHash('sha256').update(`${name}\u0000${labels}`).digest('hex').slice(0, 40);

/** Events in [fromMs, toMs), one page in memory at a time, ordered by time then path. */
async function* eventsBetween(
  ctx: FsContext,
  fromMs: number,
  untilMs: number,
  fields: string[],
): AsyncGenerator<DocumentSnapshot> {
  const base: Query = ctx.db
    .collectionGroup(COLLECTIONS.events)
    .where('at', '>=', ts(fromMs))
    .where('at', '<', ts(untilMs))
    .orderBy('at')
    .orderBy(FieldPath.documentId())
    .select(...fields);
  let after: DocumentSnapshot | null = null;
  for (;;) {
    const snap = await (after ? base.startAfter(after) : base).limit(PAGE).get();
    yield* snap.docs;
    if (snap.size < PAGE) return;
    after = snap.docs[snap.docs.length - 1]!;
  }
}

const ownerOf = (s: DocumentSnapshot) => s.ref.parent.parent!.id;

/**
 * The monitoring role: integrity checks, subjects at their limit, threshold
 * notices, job metrics, consume totals and the read-only queries behind `quotaclock
 * report` and `metrics`, over the same documents the other operations use.
 * They read events and user documents page by page: operator commands, not
 * hot paths.
 */
export class FsMonitoring implements StoreMonitoring {
  constructor(private readonly ctx: FsContext) {}

  verify(nowMs: number): Promise<IntegrityViolation[]> {
    return verifyFirestore(this.ctx, nowMs);
  }

  /** Subjects at or over a limit in the period containing nowMs, in id order. */
  async subjectsAtLimit(nowMs: number, max = 1000): Promise<Subject[]> {
    const out: Subject[] = [];
    let after: string | null = null;
    for (;;) {
      let q = this.ctx.quotas().orderBy('__name__').limit(1000);
      if (after) q = q.startAfter(after);
      const page = await q.get();
      for (const snap of page.docs) {
        if (out.length >= max) return out;
        const d = parseQuotaDoc(this.policy, snap, nowMs);
        if (!this.policy.catalog.has(d.plan)) continue;
        const period = this.policy.periods.at(ctxOf(d), nowMs);
        if (period.startMs !== d.current.startMs) continue;
        const hit = Object.entries(d.currentUsed).some(([f, used]) => {
          if (!this.policy.catalog.features.includes(f) || used <= 0) return false;
          const limit = limitOf(this.policy, d.plan, d.overrides, f);
          return limit !== null && used >= limit;
        });
        if (hit) out.push(subjectOf(d));
      }
      if (page.size < 1000) return out;
      after = page.docs[page.docs.length - 1]!.id;
    }
  }

  /** A notice document per subject, feature, period and threshold: only its creator gets true. */
  async claimThresholdNotice(notice: ThresholdNotice, nowMs: number): Promise<boolean> {
    const id = createHash('sha256')
      .update(
        `${notice.subject}\u0000${notice.feature}\u0000${notice.periodStartMs}\u0000${notice.threshold}`,
      )
      .digest('hex')
      .slice(0, 40);
    try {
      await this.ctx.db
        .collection('quotaclockNotices')
        .doc(id)
        .create({
          subject: notice.subject,
          feature: notice.feature,
          period_start: ts(notice.periodStartMs),
          period_end: ts(notice.periodEndMs),
          threshold: notice.threshold,
          at: ts(nowMs),
        });
      return true;
    } catch (e) {
      if (grpcCode(e) === GRPC.ALREADY_EXISTS) return false;
      throw e;
    }
  }

  private get policy() {
    return this.ctx.policy;
  }

  /** One batch: gauges replace their value, counters add with a server-side increment. */
  async recordJobMetrics(samples: readonly JobMetricSample[], nowMs: number): Promise<void> {
    if (samples.length === 0) return;
    const batch = this.ctx.db.batch();
    for (const s of samples) {
      const labels = labelKey(s.labels);
      const ref = this.ctx.db.collection(METRICS).doc(metricId(s.name, labels));
      if (s.mode === 'set') {
        batch.set(ref, { name: s.name, labels, value: s.value, updated: ts(nowMs) });
      } else {
        batch.set(
          ref,
          { name: s.name, labels, value: FieldValue.increment(s.value), updated: ts(nowMs) },
          { merge: true },
        );
      }
    }
    await batch.commit();
  }

  async jobMetrics(): Promise<JobMetric[]> {
    const snap = await this.ctx.db.collection(METRICS).get();
    const archive: readonly string[] = Object.values(PRUNED);
    return snap.docs
      .map((d) => ({
        name: String(d.get('name')),
        labels: String(d.get('labels') ?? ''),
        value: Number(d.get('value') ?? 0),
        updatedMs: toMs(d.get('updated')) ?? 0,
      }))
      .filter((m) => !archive.includes(m.name))
      .sort((a, b) =>
        a.name === b.name ? (a.labels < b.labels ? -1 : 1) : a.name < b.name ? -1 : 1,
      )
      .map((m) => ({
        name: m.name,
        labels: m.labels ? (JSON.parse(m.labels) as Record<string, string>) : {},
        value: m.value,
        updatedMs: m.updatedMs,
      }));
  }

  /** Aggregation queries over the consume events, plus what retention archived. */
  async consumeTotals(): Promise<ConsumeTotals> {
    const consumes = this.ctx.db.collectionGroup(COLLECTIONS.events).where('kind', '==', 'consume');
    const [granted, denied, archived] = await Promise.all([
      consumes
        .where('delta', '>', 0)
        .aggregate({ n: AggregateField.count(), units: AggregateField.sum('delta') })
        .get(),
      consumes.where('delta', '==', 0).count().get(),
      this.ctx.db.getAll(
        ...Object.values(PRUNED).map((n) => this.ctx.db.collection(METRICS).doc(metricId(n, ''))),
      ),
    ]);
    const kept = (name: string) =>
      Number(archived.find((s) => s.get('name') === name)?.get('value') ?? 0);
    return {
      granted: granted.data().n + kept(PRUNED.granted),
      denied: denied.data().count + kept(PRUNED.denied),
      unitsGranted: Number(granted.data().units ?? 0) + kept(PRUNED.units),
    };
  }

  /**
   * Adds the consumes of events retention deleted to the archived totals, so
   * consumeTotals stays the count since the store was created.
   */
  async archivePruned(
    gone: { granted: number; denied: number; units: number },
    nowMs: number,
  ): Promise<void> {
    const samples: JobMetricSample[] = [];
    if (gone.granted) samples.push({ name: PRUNED.granted, value: gone.granted, mode: 'add' });
    if (gone.denied) samples.push({ name: PRUNED.denied, value: gone.denied, mode: 'add' });
    if (gone.units) samples.push({ name: PRUNED.units, value: gone.units, mode: 'add' });
    await this.recordJobMetrics(samples, nowMs);
  }

  async usageBuckets(fromMs: number, untilMs: number, bucketMs: number): Promise<UsageBucket[]> {
    const width = Math.max(1, Math.floor(bucketMs));
    const byKey = new Map<string, UsageBucket & { used: number; denied: number }>();
    for await (const e of eventsBetween(this.ctx, fromMs, untilMs, [
      'at',
      'feature',
      'kind',
      'delta',
    ])) {
      const at = toMs(e.get('at'));
      if (at === null) continue;
      const b = Math.floor((at - fromMs) / width);
      const feature = String(e.get('feature'));
      const key = `${String(b).padStart(12, '0')}\u0000${feature}`;
      const row = byKey.get(key) ?? { startMs: fromMs + b * bucketMs, feature, used: 0, denied: 0 };
      const kind = e.get('kind');
      const delta = Number(e.get('delta') ?? 0);
      if (kind === 'consume' || kind === 'refund') row.used += delta;
      if (kind === 'consume' && delta === 0) row.denied += 1;
      byKey.set(key, row);
    }
    return [...byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => ({ startMs: r.startMs, feature: r.feature, used: r.used, denied: r.denied }));
  }

  /**
   * Every subject's usage in the period `key`: a closed period's counters
   * with the plan and limits frozen at close; an open one's from the user
   * document or its history document, with today's limits; the earlier
   * system's history for months it reset. Subjects whose first open period
   * is at or before `key` and that existed before its end are listed with no
   * usage, as the SQL stores list them.
   */
  async *periodUsage(key: string, endMs: number): AsyncGenerator<SubjectUsage> {
    const history = new Map<string, DocumentSnapshot>();
    for await (const page of pages(
      this.ctx.db.collectionGroup(COLLECTIONS.history).where('period', '==', key),
    )) {
      for (const s of page) history.set(ownerOf(s), s);
    }
    const nowMs = this.ctx.now();
    for await (const page of pages(this.ctx.quotas())) {
      for (const snap of page) {
        const d = parseQuotaDoc(this.policy, snap, nowMs);
        const u = this.usageIn(d, key, endMs, history.get(d.id));
        if (u) yield u;
      }
    }
  }

  private usageIn(
    d: QuotaDoc,
    key: string,
    endMs: number,
    historySnap: DocumentSnapshot | undefined,
  ): SubjectUsage | null {
    const today = { subject: d.id, plan: d.plan, limits: this.limitsNow(d) };
    if (d.current.key === key) return { ...today, used: { ...d.currentUsed } };
    const h = historySnap ? parseHistoryDoc(this.policy, d, historySnap) : null;
    const mark = markOf(d);
    if (h?.managed) {
      if (h.closed && h.period && h.period.startMs < mark.startMs) {
        return {
          subject: d.id,
          plan: h.plan ?? d.plan,
          limits: { ...(h.limits ?? {}) },
          used: { ...h.used },
        };
      }
      return { ...today, used: { ...h.used } };
    }
    if (h?.period && h.period.startMs < mark.startMs) {
      // A month the earlier system reset: today's plan stands in for the one of the time.
      return { ...today, limits: closingLimits(this.policy, d), used: legacyCounters(h) };
    }
    if (mark.key <= key && d.createdMs < endMs) return { ...today, used: {} };
    return null;
  }

  private limitsNow(d: QuotaDoc): Record<string, Limit> {
    return this.policy.catalog.has(d.plan) ? limitsOf(this.policy, d.plan, d.overrides) : {};
  }

  /** Net usage per subject from consume and refund events in [fromMs, toMs), in id order. */
  async *windowUsage(fromMs: number, untilMs: number): AsyncGenerator<SubjectUsage> {
    const used = new Map<string, Record<string, number>>();
    for await (const e of eventsBetween(this.ctx, fromMs, untilMs, ['feature', 'kind', 'delta'])) {
      const kind = e.get('kind');
      if (kind !== 'consume' && kind !== 'refund') continue;
      const uid = ownerOf(e);
      const m = used.get(uid) ?? {};
      const feature = String(e.get('feature'));
      m[feature] = (m[feature] ?? 0) + Number(e.get('delta') ?? 0);
      used.set(uid, m);
    }
    const ids = [...used.keys()].sort();
    const nowMs = this.ctx.now();
    for (let i = 0; i < ids.length; i += 300) {
      const chunk = ids.slice(i, i + 300);
      const snaps = await this.ctx.db.getAll(...chunk.map((id) => this.ctx.quotaRef(id)));
      for (const snap of snaps) {
        if (!snap.exists) continue;
        const d = parseQuotaDoc(this.policy, snap, nowMs);
        yield { subject: d.id, plan: d.plan, limits: this.limitsNow(d), used: used.get(d.id)! };
      }
    }
  }
}

/** The consume counts of events about to be deleted by retention. */
export function consumeCounts(events: readonly DocumentSnapshot[]): {
  granted: number;
  denied: number;
  units: number;
} {
  let granted = 0;
  let denied = 0;
  let units = 0;
  for (const e of events) {
    if (e.get('kind') !== 'consume') continue;
    const delta = toCount(e.get('delta')) ?? 0;
    if (delta > 0) {
      granted += 1;
      units += delta;
    } else denied += 1;
  }
  return { granted, denied, units };
}
