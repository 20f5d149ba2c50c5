import type { DocumentSnapshot, Transaction } from '@google-cloud/firestore';
import {
  BadInputError,
  IdempotencyKeyReusedError,
  RefundKeyNotFoundError,
  SubjectNotFoundError,
} from '../../core/errors.js';
import type { Limit } from '../../core/plans.js';
import type { Period } from '../../core/period.js';
import { featureStatus, fits, periodView, remainingOf } from '../../core/policy.js';
import { resolveNewSubject } from '../../core/subject-rules.js';
import { historyOf, type HistoryPeriod } from '../../core/history.js';
import type {
  Page,
  ConsumeItem,
  ConsumeOptions,
  ConsumeResult,
  ItemOutcome,
  HistoryEntry,
  RefundResult,
  ResetSubjectResult,
  StatusResult,
} from '../../core/types.js';
import { REFUND_KEY_PREFIX } from '../../core/validate.js';
import { runTx } from './client.js';
import {
  CLI_ACTOR,
  type Actor,
  type EventListOptions,
  type UsageEventView,
} from '../../core/admin-types.js';
import { fingerprintDiffers } from '../../core/idempotency.js';
import { toIso } from '../../core/period.js';
import { answerClock } from '../../core/answer-clock.js';
import { settleItem } from '../../core/item-outcome.js';
import { SYSTEM_ACTOR, pageLimit, refundAudit, resetAudit, seqCursor } from '../admin-mapping.js';
import type { ResetOptions, StoreUsage } from '../quota-store.js';
import type { FsContext } from './context.js';
import {
  adoptionFields,
  closingLimits,
  ctxOf,
  eventId,
  historyWrite,
  keyedEventId,
  legacyCounters,
  legacyEnd,
  lifetimeField,
  limitOf,
  limitsOf,
  markOf,
  newQuotaDocument,
  newSeq,
  openHistoryMap,
  operationAuditId,
  parseHistoryDoc,
  parseQuotaDoc,
  pendingSnap,
  setIn,
  setQc,
  toCount,
  toMs,
  ts,
  type DocFields,
  type HistoryDoc,
  type QuotaDoc,
} from './layout.js';

export interface EventFields {
  kind: 'consume' | 'refund' | 'reset';
  feature: string;
  period: Period;
  atMs: number;
  amount: number;
  delta: number;
  usedAfter: number;
  limit: Limit;
  key: string | null;
  outcome: unknown;
  meta: unknown;
  /** Keyed consumes: what the request was, compared on a retry. */
  fingerprint?: string | null;
}

/** One usage event document; `seq` orders events across the store for export. */
export function eventDocument(uid: string, e: EventFields, seq: string) {
  return {
    seq,
    user_uid: uid,
    kind: e.kind,
    feature: e.feature,
    period_start: ts(e.period.startMs),
    period_end: ts(e.period.endMs),
    period_key: e.period.key,
    at: ts(e.atMs),
    // The earlier system's usage records carried a timestamp; old readers find it here.
    timestamp: ts(e.atMs),
    amount: e.amount,
    delta: e.delta,
    used_after: e.usedAfter,
    limit: e.limit,
    key: e.key,
    outcome_json: e.outcome === null || e.outcome === undefined ? null : JSON.stringify(e.outcome),
    meta_json: e.meta === null || e.meta === undefined ? null : JSON.stringify(e.meta),
    ...(e.fingerprint ? { fingerprint: e.fingerprint } : {}),
  };
}

/**
 * Where one period's counters of a subject live: the user document for its
 * current period, usage_history/{key} for any other.
 */
interface Counters {
  readonly where: 'main' | 'history' | 'none';
  readonly used: Record<string, number>;
  readonly history: HistoryDoc | null;
}

export function countersFor(
  ctx: FsContext,
  d: QuotaDoc,
  period: Period,
  historySnap: DocumentSnapshot | null,
): Counters {
  if (period.startMs === d.current.startMs)
    return { where: 'main', used: { ...d.currentUsed }, history: null };
  if (period.startMs > d.current.startMs) return { where: 'none', used: {}, history: null };
  const h = historySnap?.exists ? parseHistoryDoc(ctx.policy, d, historySnap) : null;
  if (!h) return { where: 'history', used: {}, history: null };
  const used = h.managed
    ? { ...h.used }
    : h.period && h.period.startMs < markOf(d).startMs
      ? legacyCounters(h)
      : {};
  return { where: 'history', used, history: h };
}

/** Firestore allows 500 writes in one transaction; an item writes one event, plus a few per subject. */
const ITEMS_PER_TRANSACTION = 200;

/** One subject's consumes in one transaction: where its counters are and what the items granted. */
interface ConsumeRun {
  readonly d: QuotaDoc;
  readonly period: Period;
  readonly c: Counters;
  readonly fields: DocFields;
  readonly rolled: boolean;
  /** Units granted per feature by this run. */
  readonly granted: Map<string, number>;
}

/** The usage role: consume, refund, status, history and manual reset, each a transaction on the subject's document. */
export class FsUsage implements StoreUsage {
  constructor(private readonly ctx: FsContext) {}

  private get policy() {
    return this.ctx.policy;
  }

  /**
   * Moves a subject's document into a later period inside the caller's
   * transaction: the counters of the period it leaves go to usage_history
   * (not closed: the job closes it), and that period becomes the first open
   * one unless an older one is still open.
   */
  private rollover(
    tx: Transaction,
    d: QuotaDoc,
    to: Period,
    fields: DocFields,
    nowMs: number,
  ): void {
    if (Object.keys(d.currentUsed).length > 0) {
      const w = historyWrite(
        this.policy,
        d.id,
        d.current,
        d.currentUsed,
        nowMs,
        openHistoryMap(this.policy, d.current, d.currentUsed),
      );
      tx.set(this.ctx.historyRef(d.id, d.current.key), w.data, { mergeFields: w.mergeFields });
    }
    if (!d.stash) {
      setQc(fields, 'open_start', ts(d.current.startMs));
      setQc(fields, 'open_end', ts(d.current.endMs));
      setQc(fields, 'open_key', d.current.key);
    }
    fields.current_period_start = ts(to.startMs);
    fields.current_period_end = legacyEnd(to);
    fields.current_usage = {};
    fields.last_reset = ts(nowMs);
  }

  /** Writes one counter where it lives, inside the caller's transaction. */
  private writeCounter(
    tx: Transaction,
    d: QuotaDoc,
    period: Period,
    c: Counters,
    feature: string,
    used: number,
    fields: DocFields,
    nowMs: number,
  ): void {
    if (c.where !== 'history') {
      setIn(fields, 'current_usage', feature, used);
      return;
    }
    const next = { ...c.used, [feature]: used };
    const closed = c.history?.managed
      ? c.history.closed
      : !!c.history && period.startMs < markOf(d).startMs;
    const map = c.history?.managed
      ? {
          ...openHistoryMap(this.policy, period, next),
          closed,
          ...(closed ? this.closedDetails(c.history) : {}),
        }
      : {
          ...openHistoryMap(this.policy, period, next),
          ...(closed
            ? {
                closed: true,
                plan: d.plan,
                limits: closingLimits(this.policy, d),
                closed_at: ts(nowMs),
              }
            : {}),
        };
    const w = historyWrite(this.policy, d.id, period, next, nowMs, map);
    tx.set(this.ctx.historyRef(d.id, period.key), w.data, { mergeFields: w.mergeFields });
  }

  private closedDetails(h: HistoryDoc) {
    return {
      plan: h.plan,
      limits: h.limits ?? {},
      closed_at: h.closedMs === null ? null : ts(h.closedMs),
    };
  }

  async consume(
    id: string,
    feature: string,
    amount: number,
    opts: ConsumeOptions & { now: number },
  ): Promise<ConsumeResult> {
    const { key, meta, fingerprint } = opts;
    const item: ConsumeItem = {
      subject: id,
      feature,
      amount,
      ...(key === undefined ? {} : { key }),
      ...(meta === undefined ? {} : { meta }),
      ...(fingerprint === undefined ? {} : { fingerprint }),
    };
    const [out] = await this.consumeOfSubject(id, [item], opts.now);
    if (!out!.ok) throw out!.error;
    return out!.result;
  }

  /**
   * Many consumes: one transaction per subject (its items in order, in
   * chunks that keep a transaction well inside Firestore's write limit),
   * the subjects side by side. Outcomes come in the items' order.
   */
  async consumeMany(
    items: readonly ConsumeItem[],
    nowMs: number,
  ): Promise<ItemOutcome<ConsumeResult>[]> {
    const bySubject = new Map<string, number[]>();
    items.forEach((item, i) => {
      const list = bySubject.get(item.subject);
      if (list) list.push(i);
      else bySubject.set(item.subject, [i]);
    });
    const outcomes: ItemOutcome<ConsumeResult>[] = new Array(items.length);
    await Promise.all(
      [...bySubject].map(async ([id, indexes]) => {
        for (let from = 0; from < indexes.length; from += ITEMS_PER_TRANSACTION) {
          const chunk = indexes.slice(from, from + ITEMS_PER_TRANSACTION);
          const outs = await this.consumeOfSubject(
            id,
            chunk.map((i) => items[i]!),
            nowMs,
          );
          chunk.forEach((i, j) => (outcomes[i] = outs[j]!));
        }
      }),
    );
    return outcomes;
  }

  /** One subject's consumes, in order, in one transaction: a single consume is a list of one. */
  private async consumeOfSubject(
    id: string,
    items: readonly ConsumeItem[],
    nowMs: number,
  ): Promise<ItemOutcome<ConsumeResult>[]> {
    const ref = this.ctx.quotaRef(id);
    const keys = [...new Set(items.flatMap((i) => (i.key === undefined ? [] : [i.key])))];
    const keyRefs = keys.map((k) => this.ctx.eventsOf(id).doc(keyedEventId(k)));
    // Set by the attempt that commits: a retried transaction must not report a creation twice.
    let createdPlan: string | null = null;
    const outcomes = await this.ctx.serial(id, () =>
      runTx(this.ctx.db, async (tx) => {
        createdPlan = null;
        const [snap, ...keySnaps] = await tx.getAll(ref, ...keyRefs);
        const loaded = settleItem(() => this.subjectDoc(id, snap!, nowMs));
        if (!loaded.ok) return items.map(() => loaded);
        const { d, created } = loaded.result;
        const period = this.policy.periods.at(ctxOf(d), nowMs);
        const historySnap =
          period.startMs < d.current.startMs
            ? await tx.get(this.ctx.historyRef(id, period.key))
            : null;
        // Reads are done; from here on the transaction only writes.
        const run = this.openRun(tx, d, period, historySnap, created !== null, nowMs);
        const priors = new Map(keys.map((k, i) => [k, keySnaps[i]!]));
        const seen = new Map<string, { result: ConsumeResult; fp: string | null }>();
        const outs = items.map((item) =>
          settleItem(() => this.decide(tx, run, item, priors, seen, nowMs)),
        );
        this.finishRun(tx, run, created, nowMs);
        if (created) createdPlan = d.plan;
        return outs;
      }),
    );
    if (createdPlan !== null) this.policy.subjectAutoCreated(id, createdPlan);
    return outcomes;
  }

  /** The subject's document, or a new one to create when autoCreateSubjects is on. */
  private subjectDoc(
    id: string,
    snap: DocumentSnapshot,
    nowMs: number,
  ): { d: QuotaDoc; created: ReturnType<typeof newQuotaDocument> | null } {
    if (snap.exists) return { d: parseQuotaDoc(this.policy, snap, nowMs), created: null };
    if (!this.policy.autoCreateSubjects) throw new SubjectNotFoundError(id);
    const resolved = resolveNewSubject(this.policy, { id }, nowMs);
    const created = newQuotaDocument(this.policy, resolved, nowMs, newSeq());
    return { d: parseQuotaDoc(this.policy, pendingSnap(id, created), nowMs), created };
  }

  /** The counters of the period the consumes land in, rolling the document over into it if it is newer. */
  private openRun(
    tx: Transaction,
    d: QuotaDoc,
    period: Period,
    historySnap: DocumentSnapshot | null,
    creating: boolean,
    nowMs: number,
  ): ConsumeRun {
    const fields: DocFields = creating ? {} : adoptionFields(d, nowMs);
    let c = countersFor(this.ctx, d, period, historySnap);
    let rolled = false;
    if (period.startMs > d.current.startMs) {
      this.rollover(tx, d, period, fields, nowMs);
      rolled = true;
      c = { where: 'main', used: {}, history: null };
    }
    return { d, period, c, fields, rolled, granted: new Map() };
  }

  /** One item, as a single consume decides it; its event is written at once. */
  private decide(
    tx: Transaction,
    run: ConsumeRun,
    item: ConsumeItem,
    priors: Map<string, DocumentSnapshot>,
    seen: Map<string, { result: ConsumeResult; fp: string | null }>,
    nowMs: number,
  ): ConsumeResult {
    const { d, period, c } = run;
    const { key, feature, amount } = item;
    const fp = item.fingerprint ?? null;
    if (key !== undefined) {
      const replay = this.replayOf(key, fp, priors.get(key)!, seen.get(key), d, nowMs);
      if (replay) return replay;
    }
    const limit = limitOf(this.policy, d.plan, d.overrides, feature);
    const before = c.used[feature] ?? 0;
    const granted = !d.suspended && fits(limit, before, amount);
    const used = granted ? before + amount : before;
    if (granted) {
      c.used[feature] = used;
      run.granted.set(feature, (run.granted.get(feature) ?? 0) + amount);
    }
    const result: ConsumeResult = {
      granted,
      used,
      limit,
      remaining: remainingOf(limit, used),
      period: periodView(period),
      ...answerClock(d.timeZone, this.policy.rule.timeZone, period, nowMs),
      ...(granted ? {} : { reason: d.suspended ? 'suspended' : 'quota_exceeded' }),
    };
    if (key !== undefined) seen.set(key, { result, fp });
    const seq = newSeq();
    const events = this.ctx.eventsOf(d.id);
    tx.set(
      events.doc(key === undefined ? eventId(seq) : keyedEventId(key)),
      eventDocument(
        d.id,
        {
          kind: 'consume',
          feature,
          period,
          atMs: nowMs,
          amount,
          delta: granted ? amount : 0,
          usedAfter: used,
          limit,
          key: key ?? null,
          outcome: key === undefined ? null : result,
          meta: item.meta ?? null,
          fingerprint: key === undefined ? null : fp,
        },
        seq,
      ),
    );
    return result;
  }

  /** The answer a repeated key gets: the stored outcome, or that of an earlier item of this call. */
  private replayOf(
    key: string,
    fp: string | null,
    prior: DocumentSnapshot,
    earlier: { result: ConsumeResult; fp: string | null } | undefined,
    d: QuotaDoc,
    nowMs: number,
  ): ConsumeResult | null {
    if (earlier) {
      if (fingerprintDiffers(earlier.fp, fp)) throw new IdempotencyKeyReusedError(key);
      return { ...earlier.result, replayed: true };
    }
    if (!prior.exists) return null;
    const data = prior.data()!;
    // The key is taken by a refund record: never replay it as a consume.
    if (data.kind !== 'consume')
      throw new BadInputError(`key: "${key}" is reserved for a refund`, 'key');
    if (typeof data.outcome_json !== 'string') return null;
    const stored = typeof data.fingerprint === 'string' ? data.fingerprint : null;
    if (fingerprintDiffers(stored, fp)) throw new IdempotencyKeyReusedError(key);
    const outcome = JSON.parse(data.outcome_json) as ConsumeResult;
    // One stored before answers carried the zone and seconds left gets today's.
    const clock =
      outcome.timeZone === undefined
        ? answerClock(
            d.timeZone,
            this.policy.rule.timeZone,
            { endMs: Date.parse(outcome.period.end) },
            nowMs,
          )
        : {};
    return { ...outcome, ...clock, replayed: true };
  }

  /** Writes the counters once, with the lifetime totals, and creates or updates the document. */
  private finishRun(
    tx: Transaction,
    run: ConsumeRun,
    created: ReturnType<typeof newQuotaDocument> | null,
    nowMs: number,
  ): void {
    const { d, period, c, fields } = run;
    const features = [...run.granted.keys()];
    if (created) {
      const doc = created as Record<string, unknown>;
      for (const [f, amount] of run.granted) {
        (doc.current_usage as Record<string, number>)[f] = c.used[f]!;
        (doc.lifetime_stats as Record<string, unknown>)[lifetimeField(f)] = amount;
      }
      tx.create(this.ctx.quotaRef(d.id), doc);
      this.ctx.audit(
        tx,
        nowMs,
        { action: 'subject.auto_create', subject: d.id, before: null, after: { plan: d.plan } },
        SYSTEM_ACTOR,
      );
      return;
    }
    // A history document holds every feature's counter: written once, from the last feature.
    const writes = c.where === 'history' ? features.slice(-1) : features;
    for (const f of writes) this.writeCounter(tx, d, period, c, f, c.used[f]!, fields, nowMs);
    for (const [f, amount] of run.granted)
      setIn(fields, 'lifetime_stats', lifetimeField(f), (d.lifetime[f] ?? 0) + amount);
    if (features.length > 0 || run.rolled || Object.keys(fields).length > 0) {
      fields.updated_at = ts(nowMs);
      tx.update(this.ctx.quotaRef(d.id), fields);
    }
  }

  async refund(id: string, key: string, nowMs: number, actor?: Actor): Promise<RefundResult> {
    const events = this.ctx.eventsOf(id);
    const originalRef = events.doc(keyedEventId(key));
    const refundKey = `${REFUND_KEY_PREFIX}${key}`;
    const refundRef = events.doc(keyedEventId(refundKey));
    return this.ctx.serial(id, () =>
      runTx(this.ctx.db, async (tx) => {
        const [snap, original, already] = await tx.getAll(
          this.ctx.quotaRef(id),
          originalRef,
          refundRef,
        );
        if (!snap!.exists) throw new SubjectNotFoundError(id);
        const d = parseQuotaDoc(this.policy, snap!, nowMs);
        const o = original!.exists ? original!.data()! : null;
        // Only a consume can be refunded: "refunding" a refund record would add units back unguarded.
        if (!o || o.kind !== 'consume') throw new RefundKeyNotFoundError(id, key);
        const startMs = toMs(o.period_start)!;
        const endMs = toMs(o.period_end)!;
        const feature = String(o.feature);
        const period: Period = {
          startMs,
          endMs,
          key: this.policy.periods.at(ctxOf(d), startMs).key,
        };
        const historySnap =
          startMs < d.current.startMs ? await tx.get(this.ctx.historyRef(id, period.key)) : null;
        const c = countersFor(this.ctx, d, period, historySnap);
        const current = c.used[feature] ?? 0;
        const view = periodView(period);
        const clock = answerClock(d.timeZone, this.policy.rule.timeZone, period, nowMs);
        const delta = toCount(o.delta) ?? 0;
        if (already!.exists || delta === 0) {
          return {
            refunded: false,
            amount: 0,
            used: current,
            period: view,
            ...clock,
            ...(already!.exists ? { alreadyRefunded: true } : {}),
          };
        }
        // A manual reset may have cleared the units since; never drive a counter below zero.
        const back = Math.min(delta, current);
        const used = current - back;
        const fields = adoptionFields(d, nowMs);
        if (c.where !== 'none') this.writeCounter(tx, d, period, c, feature, used, fields, nowMs);
        setIn(
          fields,
          'lifetime_stats',
          lifetimeField(feature),
          Math.max(0, (d.lifetime[feature] ?? 0) - back),
        );
        // Touching the user document also makes a concurrent close of that period re-read it.
        fields.updated_at = ts(nowMs);
        tx.update(this.ctx.quotaRef(id), fields);
        tx.set(
          refundRef,
          eventDocument(
            id,
            {
              kind: 'refund',
              feature,
              period,
              atMs: nowMs,
              amount: delta,
              delta: -back,
              usedAfter: used,
              limit: null,
              key: refundKey,
              outcome: null,
              meta: { refunds: originalRef.id },
            },
            newSeq(),
          ),
        );
        const audit = { key, feature, period: period.key, before: current, after: used };
        if (actor) this.ctx.audit(tx, nowMs, refundAudit(id, audit), actor);
        return { refunded: true, amount: back, used, period: view, ...clock };
      }),
    );
  }

  async status(id: string, nowMs: number): Promise<StatusResult> {
    const d = await this.ctx.require(id, nowMs);
    const period = this.policy.periods.at(ctxOf(d), nowMs);
    const historySnap =
      period.startMs < d.current.startMs ? await this.ctx.historyRef(id, period.key).get() : null;
    const c = countersFor(this.ctx, d, period, historySnap);
    const features: Record<string, ReturnType<typeof featureStatus>> = {};
    for (const f of this.policy.catalog.features) {
      features[f] = featureStatus(limitOf(this.policy, d.plan, d.overrides, f), c.used[f] ?? 0);
    }
    return {
      subject: d.id,
      plan: d.plan,
      suspended: d.suspended,
      suspendedReason: d.suspendedReason,
      period: periodView(period),
      ...answerClock(d.timeZone, this.policy.rule.timeZone, period, nowMs),
      features,
    };
  }

  /** Every period with counters or a close, newest first, as the SQLite store reports them. */
  async history(id: string): Promise<HistoryEntry[]> {
    const d = await this.ctx.require(id, this.ctx.now());
    const snaps = await this.ctx.quotaRef(id).collection('usage_history').get();
    return historyEntries(this.ctx, d, snaps.docs);
  }

  async resetSubject(
    id: string,
    nowMs: number,
    { dryRun = false, reason, operation, actor }: ResetOptions = {},
  ): Promise<ResetSubjectResult> {
    const work = async (tx: Transaction | null): Promise<ResetSubjectResult> => {
      const get = (ref: FirebaseFirestore.DocumentReference) => (tx ? tx.get(ref) : ref.get());
      const snap = await get(this.ctx.quotaRef(id));
      if (!snap.exists) throw new SubjectNotFoundError(id);
      const d = parseQuotaDoc(this.policy, snap, nowMs);
      const period = this.policy.periods.at(ctxOf(d), nowMs);
      const view = periodView(period);
      const opRef = operation
        ? this.ctx.auditCollection().doc(operationAuditId(id, operation, period.key))
        : null;
      if (opRef && (await get(opRef)).exists)
        return { subject: id, period: view, cleared: {}, skipped: true };
      const historySnap =
        period.startMs < d.current.startMs ? await get(this.ctx.historyRef(id, period.key)) : null;
      const c = countersFor(this.ctx, d, period, historySnap);
      const cleared: Record<string, number> = {};
      for (const f of Object.keys(c.used).sort()) if (c.used[f]! > 0) cleared[f] = c.used[f]!;
      if (!tx) return { subject: id, period: view, cleared };
      const fields = adoptionFields(d, nowMs);
      for (const [f, n] of Object.entries(cleared)) {
        if (c.where === 'main') setIn(fields, 'current_usage', f, 0);
        tx.set(
          this.ctx.eventsOf(id).doc(eventId(newSeq())),
          eventDocument(
            id,
            {
              kind: 'reset',
              feature: f,
              period,
              atMs: nowMs,
              amount: n,
              delta: -n,
              usedAfter: 0,
              limit: null,
              key: null,
              outcome: null,
              meta: reason ? { reason } : null,
            },
            newSeq(),
          ),
        );
      }
      if (c.where === 'history' && Object.keys(cleared).length > 0) {
        const zeroed = { ...c.used };
        for (const f of Object.keys(cleared)) zeroed[f] = 0;
        const map = {
          ...openHistoryMap(this.policy, period, zeroed),
          ...(c.history?.managed && c.history.closed
            ? { closed: true, ...this.closedDetails(c.history) }
            : {}),
        };
        const w = historyWrite(this.policy, id, period, zeroed, nowMs, map);
        tx.set(this.ctx.historyRef(id, period.key), w.data, { mergeFields: w.mergeFields });
      }
      fields.updated_at = ts(nowMs);
      // The earlier system's manual reset also stamped last_reset.
      if (c.where === 'main' && Object.keys(cleared).length > 0) fields.last_reset = ts(nowMs);
      tx.update(this.ctx.quotaRef(id), fields);
      this.ctx.audit(
        tx,
        nowMs,
        {
          ...resetAudit(id, period.key, cleared),
          detail: {
            period: period.key,
            cleared,
            reason: reason ?? null,
            operation: operation ?? null,
          },
        },
        reason ? { ...(actor ?? CLI_ACTOR), reason } : actor,
        opRef?.id,
      );
      return { subject: id, period: view, cleared };
    };
    return dryRun ? work(null) : this.ctx.serial(id, () => runTx(this.ctx.db, (tx) => work(tx)));
  }

  /** Newest first by seq (the event's creation order), from the cursor's seq. */
  async subjectEvents(id: string, opts: EventListOptions = {}): Promise<Page<UsageEventView>> {
    const d = await this.ctx.require(id, this.ctx.now());
    const limit = pageLimit(opts.limit);
    const after = seqCursor(opts.after);
    let q = this.ctx.eventsOf(id).orderBy('seq', 'desc');
    if (after) q = q.startAfter(after);
    const page = await q.limit(limit + 1).get();
    const views = page.docs.slice(0, limit).map((snap) => {
      const e = snap.data();
      const startMs = toMs(e.period_start) ?? 0;
      const kind = e.kind as UsageEventView['kind'];
      return {
        view: {
          id: snap.id,
          at: toIso(toMs(e.at) ?? 0),
          subject: id,
          feature: String(e.feature),
          kind,
          amount: Number(e.amount ?? 0),
          periodKey:
            typeof e.period_key === 'string'
              ? e.period_key
              : this.policy.periods.at(ctxOf(d), startMs).key,
          key: typeof e.key === 'string' ? e.key : null,
          meta:
            typeof e.meta_json === 'string'
              ? (JSON.parse(e.meta_json) as Record<string, unknown>)
              : {},
          ...(kind === 'consume' ? { granted: Number(e.delta ?? 0) > 0 } : {}),
        } satisfies UsageEventView,
        seq: String(e.seq),
      };
    });
    const items = views.map((v) => v.view);
    return { items, next: page.size > limit ? views[views.length - 1]!.seq : null };
  }
}

/** Builds history entries from a user document and its usage_history documents. */
export function historyEntries(
  ctx: FsContext,
  d: QuotaDoc,
  historyDocs: readonly DocumentSnapshot[],
): HistoryEntry[] {
  const policy = ctx.policy;
  const mark = markOf(d);
  const byStart = new Map<number, HistoryPeriod>();
  for (const snap of historyDocs) {
    const h = parseHistoryDoc(policy, d, snap);
    if (!h.period || h.period.startMs === d.current.startMs) continue;
    const { startMs, endMs } = h.period;
    if (h.managed) {
      const closed = h.closed && startMs < mark.startMs;
      if (!closed && Object.keys(h.used).length === 0) continue;
      byStart.set(startMs, {
        key: h.key,
        start: startMs,
        end: endMs,
        plan: closed ? (h.plan ?? d.plan) : null,
        limits: closed ? { ...(h.limits ?? {}) } : null,
        used: { ...h.used },
      });
    } else if (startMs < mark.startMs) {
      // A period the earlier system reset: closed, with today's plan standing in for the one of the time.
      byStart.set(startMs, {
        key: h.key,
        start: startMs,
        end: endMs,
        plan: d.plan,
        limits: closingLimits(policy, d),
        used: legacyCounters(h),
      });
    }
  }
  if (Object.keys(d.currentUsed).length > 0) {
    byStart.set(d.current.startMs, {
      key: d.current.key,
      start: d.current.startMs,
      end: d.current.endMs,
      plan: null,
      limits: null,
      used: { ...d.currentUsed },
    });
  }
  return historyOf(policy, limitsOf(policy, d.plan, d.overrides), byStart.values());
}
