import {
  AggregateField,
  FieldPath,
  FieldValue,
  type BulkWriter,
  type BulkWriterError,
  type DocumentData,
  type DocumentSnapshot,
} from '@google-cloud/firestore';
import {
  addPreviewPeriod,
  addUsage,
  mergeTotals,
  type CloseTotals,
} from '../../core/close-summary.js';
import { endedOpenPeriods, nextMark } from '../../core/closing.js';
import { PeriodCalculator, toIso, type Period } from '../../core/period.js';
import { isAtLimit } from '../../core/policy.js';
import type {
  CloseBatchRequest,
  CloseBatchResult,
  PendingPeriod,
  PreviewBatchResult,
  RunCheckpoint,
  RunRecord,
  RunStatus,
} from '../quota-store.js';
import {
  decodeCursor,
  encodeCursor,
  CLOSE_FIELDS,
  PLACEMENT_FIELDS,
  scanAll,
  scanPage,
  START,
  type ScanCursor,
  type ScanPage,
} from './candidates.js';
import { GRPC, grpcCode, runTx } from './client.js';
import { UNFINISHED_RUN_STATUSES } from '../shared/ledger-rules.js';
import type { FsContext } from './context.js';
import {
  adoptionFields,
  closingLimits,
  COLLECTIONS,
  ctxOf,
  historyWrite,
  LEGACY_END_OFFSET_MS,
  legacyCounters,
  legacyEnd,
  markOf,
  parseHistoryDoc,
  parseQuotaDoc,
  setQc,
  totalsOf,
  toMs,
  ts,
  type DocFields,
  type QuotaDoc,
} from './layout.js';

const EMPTY_CHECKPOINT: RunCheckpoint = { cursor: null, subjects: 0, summary: {} };
/** Rounds of re-reading documents that changed under a batch before giving up on the batch. */
const MAX_ROUNDS = 20;

export function toRun(key: string, r: DocumentData): RunRecord {
  const ms = (v: unknown) => toMs(v);
  const start = ms(r.period_start);
  const end = ms(r.period_end);
  const finished = ms(r.finished_at);
  return {
    key,
    status: r.status as RunStatus,
    startedAt: toIso(ms(r.started_at) ?? 0),
    finishedAt: finished === null ? null : toIso(finished),
    attempts: typeof r.attempts === 'number' ? r.attempts : 1,
    holder: typeof r.holder === 'string' ? r.holder : null,
    periodStart: start === null ? null : toIso(start),
    periodEnd: end === null ? null : toIso(end),
    checkpoint:
      typeof r.checkpoint_json === 'string'
        ? (JSON.parse(r.checkpoint_json) as RunCheckpoint)
        : EMPTY_CHECKPOINT,
    error: typeof r.error === 'string' ? r.error : null,
  };
}

/** One subject about to be closed: what was read, and the writes that close it. */
interface Closing {
  readonly doc: QuotaDoc;
  readonly mark: Period;
  readonly used: Record<string, number>;
  readonly limits: Record<string, number | null>;
  /** The history document as read, when it was read. */
  history: DocumentSnapshot | null;
}

export class FsClose {
  constructor(
    private readonly ctx: FsContext,
    private readonly bulkOpsPerSecond: number,
  ) {}

  private get policy() {
    return this.ctx.policy;
  }

  // --- what is open ---

  /**
   * Periods with subjects whose first open period ended, oldest first. For
   * calendar weeks, months and years this counts instead of reading: every
   * subject's period with one key ends within ±27 h of the rule zone's end of
   * it (zones span UTC−12…UTC+14), and those windows never overlap, so one
   * count aggregation per key over current_period_end is exact. Stashes
   * (older open periods) and documents without the field are read; they are few.
   * Daily and anniversary rules read every ended document instead.
   */
  async pendingPeriods(nowMs: number): Promise<PendingPeriod[]> {
    const byKey = new Map<string, { subjects: number; startMs: number; endMs: number }>();
    const add = (key: string, n: number, startMs: number, endMs: number) => {
      if (n <= 0) return;
      const e = byKey.get(key);
      if (!e) byKey.set(key, { subjects: n, startMs, endMs });
      else {
        e.subjects += n;
        e.startMs = Math.min(e.startMs, startMs);
        e.endMs = Math.max(e.endMs, endMs);
      }
    };
    if (!this.countable()) {
      for await (const d of scanAll(this.ctx, nowMs, { select: PLACEMENT_FIELDS })) {
        const m = markOf(d);
        add(m.key, 1, m.startMs, m.endMs);
      }
    } else {
      const stashes = await this.stashes(nowMs);
      for (const d of stashes)
        if (d.stash!.endMs <= nowMs) add(d.stash!.key, 1, d.stash!.startMs, d.stash!.endMs);
      const endedBy = nowMs - LEGACY_END_OFFSET_MS;
      let after: number | null = null;
      for (;;) {
        let q = this.ctx.quotas().where('current_period_end', '<=', ts(endedBy));
        if (after !== null) q = q.where('current_period_end', '>', ts(after));
        const first = (
          await q
            .orderBy('current_period_end')
            .limit(1)
            .select(...PLACEMENT_FIELDS)
            .get()
        ).docs[0];
        if (!first) break;
        const d = parseQuotaDoc(this.policy, first, nowMs);
        const w = this.window(d.current.endMs);
        const hi = Math.min(w.hi, endedBy);
        const n = await this.countEnds(w.lo, hi, stashes);
        if (n > 0) {
          const last = (
            await this.ctx
              .quotas()
              .where('current_period_end', '>=', ts(w.lo))
              .where('current_period_end', '<=', ts(hi))
              .orderBy('current_period_end', 'desc')
              .limit(1)
              .select(...PLACEMENT_FIELDS)
              .get()
          ).docs[0];
          const latest = last
            ? parseQuotaDoc(this.policy, last, nowMs).current.endMs
            : d.current.endMs;
          add(d.current.key, n, d.current.startMs, Math.max(latest, d.current.endMs));
        }
        after = w.hi;
      }
      for (const d of await this.unplaced(nowMs))
        add(markOf(d).key, 1, markOf(d).startMs, markOf(d).endMs);
    }
    return [...byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, v]) => ({ key, ...v }));
  }

  async openCount(key: string, nowMs: number): Promise<{ ended: number; notYetEnded: number }> {
    if (this.countable()) {
      const startMs = keyStartUtc(key);
      if (startMs !== null) {
        const p = this.policy.periods.at({ timeZone: null, anchorMs: 0 }, startMs + 14 * 3_600_000);
        if (p.key === key) {
          const stashes = await this.stashes(nowMs);
          const w = this.window(p.endMs);
          const endedBy = nowMs - LEGACY_END_OFFSET_MS;
          let ended =
            w.lo <= endedBy ? await this.countEnds(w.lo, Math.min(w.hi, endedBy), stashes) : 0;
          let later =
            w.hi > endedBy ? await this.countEnds(Math.max(w.lo, endedBy + 1), w.hi, stashes) : 0;
          for (const d of stashes) {
            if (d.stash!.key !== key) continue;
            if (d.stash!.endMs <= nowMs) ended += 1;
            else later += 1;
          }
          for (const d of await this.unplaced(nowMs)) if (markOf(d).key === key) ended += 1;
          return { ended, notYetEnded: later };
        }
      }
    }
    let ended = 0;
    for await (const d of scanAll(this.ctx, nowMs, { key, select: PLACEMENT_FIELDS })) {
      if (d) ended += 1;
    }
    // Not yet ended: stashes of this key that end later, and current periods of this key that end later.
    let later = 0;
    const stashes = await this.ctx
      .quotas()
      .where('quotaclock.open_key', '==', key)
      .select(...PLACEMENT_FIELDS)
      .get();
    for (const snap of stashes.docs) {
      const d = parseQuotaDoc(this.policy, snap, nowMs);
      if (d.stash && d.stash.key === key && d.stash.endMs > nowMs) later += 1;
    }
    const bound = this.latestEndOfKey(key);
    if (bound > nowMs) {
      let after: DocumentSnapshot | null = null;
      for (;;) {
        let q = this.ctx
          .quotas()
          .where('current_period_end', '>=', ts(nowMs - 1000))
          .where('current_period_end', '<=', ts(Math.min(bound, 253402300799000)))
          .orderBy('current_period_end')
          .orderBy(FieldPath.documentId())
          .select(...PLACEMENT_FIELDS)
          .limit(1000);
        if (after) q = q.startAfter(after);
        const page = await q.get();
        for (const snap of page.docs) {
          const d = parseQuotaDoc(this.policy, snap, nowMs);
          if (!d.stash && d.current.key === key && d.current.endMs > nowMs) later += 1;
        }
        if (page.size < 1000) break;
        after = page.docs[page.docs.length - 1]!;
      }
    }
    return { ended, notYetEnded: later };
  }

  /** Calendar weeks, months and years: a key's ends fall in one window no other key's do. */
  private countable(): boolean {
    return this.policy.rule.anchor === 'calendar' && this.policy.rule.every !== 'day';
  }

  /** The instants (as stored, one second before the end) a period ending near endMs may end at in any zone. */
  private window(endMs: number): { lo: number; hi: number } {
    const spread = 27 * 3_600_000;
    return { lo: endMs - LEGACY_END_OFFSET_MS - spread, hi: endMs - LEGACY_END_OFFSET_MS + spread };
  }

  /** Documents with current_period_end in [lo, hi], less those whose first open period is a stash. */
  private async countEnds(lo: number, hi: number, stashes: readonly QuotaDoc[]): Promise<number> {
    if (hi < lo) return 0;
    const n = (
      await this.ctx
        .quotas()
        .where('current_period_end', '>=', ts(lo))
        .where('current_period_end', '<=', ts(hi))
        .count()
        .get()
    ).data().count;
    let minus = 0;
    for (const d of stashes) {
      const end = toMs(d.raw.current_period_end);
      if (end !== null && end >= lo && end <= hi) minus += 1;
    }
    return n - minus;
  }

  /** Every document with an older open period than its current one (after early consumes; few). */
  private async stashes(nowMs: number): Promise<QuotaDoc[]> {
    const snaps = await this.ctx
      .quotas()
      .where('quotaclock.open_end', '>', ts(0))
      .select(...PLACEMENT_FIELDS)
      .get();
    return snaps.docs
      .map((s) => parseQuotaDoc(this.policy, s, nowMs))
      .filter((d) => d.stash !== null);
  }

  /** Documents without a current_period_end timestamp whose first open period ended. */
  private async unplaced(nowMs: number): Promise<QuotaDoc[]> {
    const out: QuotaDoc[] = [];
    let cursor: ScanCursor | null = { phase: 'u' };
    while (cursor) {
      const page = await scanPage(this.ctx, nowMs, cursor, 5000, { select: PLACEMENT_FIELDS });
      out.push(...page.docs);
      cursor = page.next;
    }
    return out;
  }

  /**
   * An instant no period with this key ends after, in any zone: the end of
   * the UTC calendar period the key names, one period later for signup
   * anchors (a period keyed by its start month ends in the next), plus two
   * days for zones and daylight saving.
   */
  private latestEndOfKey(key: string): number {
    const startMs = keyStartUtc(key);
    if (startMs === null) return Number.POSITIVE_INFINITY;
    const utc = new PeriodCalculator({
      every: this.policy.rule.every,
      anchor: 'calendar',
      timeZone: 'UTC',
    });
    let p = utc.at({ timeZone: 'UTC', anchorMs: 0 }, startMs);
    if (this.policy.rule.anchor === 'signup') p = utc.after({ timeZone: 'UTC', anchorMs: 0 }, p);
    return p.endMs + 2 * 86_400_000;
  }

  // --- ledger ---

  async getRun(key: string): Promise<RunRecord | null> {
    const snap = await this.ctx.runRef(key).get();
    return snap.exists ? toRun(key, snap.data()!) : null;
  }

  async listRuns(limit: number): Promise<RunRecord[]> {
    // Firestore scans ids only upwards; the key field orders the other way.
    const q = await this.ctx.db
      .collection(COLLECTIONS.runs)
      .orderBy('key', 'desc')
      .limit(limit)
      .get();
    return q.docs.map((d) => toRun(d.id, d.data()));
  }

  async unfinishedRuns(): Promise<RunRecord[]> {
    const q = await this.ctx.db
      .collection(COLLECTIONS.runs)
      .where('status', 'in', [...UNFINISHED_RUN_STATUSES])
      .get();
    return q.docs
      .map((d) => toRun(d.id, d.data()))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async beginRun(
    key: string,
    holder: string,
    nowMs: number,
    period: { startMs: number; endMs: number },
    extra: Record<string, unknown> = {},
  ): Promise<RunRecord> {
    const ref = this.ctx.runRef(key);
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) {
        const doc = {
          key,
          status: 'running',
          started_at: ts(nowMs),
          finished_at: null,
          attempts: 1,
          holder,
          period_start: ts(period.startMs),
          period_end: ts(period.endMs),
          checkpoint_json: JSON.stringify(EMPTY_CHECKPOINT),
          error: null,
          ...extra,
        };
        tx.create(ref, doc);
        return toRun(key, doc);
      }
      const r = snap.data()!;
      const existing = toRun(key, r);
      // A finished key that has work again starts a fresh pass; a killed or failed one resumes.
      const resume = existing.status === 'running' || existing.status === 'failed';
      const checkpoint: RunCheckpoint = resume
        ? existing.checkpoint
        : { ...existing.checkpoint, cursor: null };
      const startMs = Math.min(toMs(r.period_start) ?? period.startMs, period.startMs);
      const endMs = Math.max(toMs(r.period_end) ?? period.endMs, period.endMs);
      const next = {
        status: 'running',
        // A run that was killed or failed may have written a batch without its
        // checkpoint: its totals are recounted from the history when it finishes.
        ...(resume ? { recount: true } : {}),
        started_at: ts(nowMs),
        finished_at: null,
        attempts: existing.attempts + 1,
        holder,
        period_start: ts(startMs),
        period_end: ts(endMs),
        checkpoint_json: JSON.stringify(checkpoint),
        error: null,
        ...extra,
      };
      tx.update(ref, next);
      return toRun(key, { ...r, ...next });
    });
  }

  async finishRun(
    key: string,
    status: 'closed' | 'partial' | 'failed',
    nowMs: number,
    error?: string,
    checkpoint?: RunCheckpoint,
  ): Promise<RunRecord> {
    const ref = this.ctx.runRef(key);
    // After a kill or a failure, the totals of a finished key are recounted from the
    // history documents, so a batch written without its checkpoint still counts once.
    // A checkpoint the caller gives is the run's total already (merged shard rows).
    const marked = !checkpoint && status !== 'failed' && (await ref.get()).get('recount') === true;
    const recount = marked ? await this.recount(key) : null;
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) throw new Error(`no run "${key}" in the ledger`);
      const r = snap.data()!;
      const update: Record<string, unknown> = {
        status,
        finished_at: ts(nowMs),
        error: error ?? null,
      };
      if (checkpoint) {
        update.checkpoint_json = JSON.stringify(checkpoint);
        if (r.recount === true) update.recount = FieldValue.delete();
      } else if (recount) {
        const cp = toRun(key, r).checkpoint;
        update.checkpoint_json = JSON.stringify({
          ...cp,
          subjects: recount.subjects,
          summary: recount.summary,
        });
        update.recount = FieldValue.delete();
      }
      tx.update(ref, update);
      return toRun(key, { ...r, ...update });
    });
  }

  /** Subjects and totals of every close recorded for a key, from aggregation queries over usage_history. */
  private async recount(key: string): Promise<{ subjects: number; summary: CloseTotals } | null> {
    const base = this.ctx.db
      .collectionGroup(COLLECTIONS.history)
      .where('quotaclock.key', '==', key)
      .where('quotaclock.closed', '==', true);
    const total = (await base.count().get()).data().count;
    const summary: CloseTotals = {};
    let counted = 0;
    for (const plan of this.policy.catalog.planNames) {
      const q = base.where('quotaclock.plan', '==', plan);
      const n = (await q.count().get()).data().count;
      if (n === 0) continue;
      counted += n;
      const byFeature: Record<string, { subjects: number; used: number; atLimit: number }> = {};
      for (const f of this.policy.catalog.features) {
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
        if (this.policy.catalog.has(plan)) continue;
        const totals = (qc.totals ?? {}) as Record<string, number>;
        const limits = (qc.limits ?? {}) as Record<string, number | null>;
        for (const f of this.policy.catalog.features)
          addUsage(summary, plan, f, totals[f] ?? 0, limits[f] ?? null);
      }
    }
    return { subjects: total, summary };
  }

  // --- closing ---

  private bulkWriter(): BulkWriter {
    const ops = this.bulkOpsPerSecond;
    const bw = this.ctx.db.bulkWriter({
      throttling: ops === 0 ? false : { initialOpsPerSecond: ops, maxOpsPerSecond: ops },
    });
    bw.onWriteError((e: BulkWriterError) => {
      const code = e.code as number;
      const transient =
        code === GRPC.ABORTED ||
        code === GRPC.UNAVAILABLE ||
        code === GRPC.RESOURCE_EXHAUSTED ||
        code === GRPC.DEADLINE_EXCEEDED;
      return transient && e.failedAttempts < 8;
    });
    return bw;
  }

  /** What closing one subject's first open period means for it: its counters and limits of that period. */
  private async prepare(docs: readonly QuotaDoc[]): Promise<Closing[]> {
    const needHistory = docs.filter((d) => markOf(d).startMs !== d.current.startMs);
    const snaps = needHistory.length
      ? await this.ctx.db.getAll(
          ...needHistory.map((d) => this.ctx.historyRef(d.id, markOf(d).key)),
        )
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
        const h = history?.exists ? parseHistoryDoc(this.policy, d, history) : null;
        used = h ? (h.managed ? { ...h.used } : legacyCounters(h)) : {};
      }
      return { doc: d, mark, used, limits: closingLimits(this.policy, d), history };
    });
  }

  private historyMap(c: Closing, nowMs: number) {
    const atLimit: Record<string, number> = {};
    for (const f of this.policy.catalog.features)
      atLimit[f] = isAtLimit(c.limits[f] ?? null, c.used[f] ?? 0) ? 1 : 0;
    return {
      key: c.mark.key,
      start: ts(c.mark.startMs),
      end: ts(c.mark.endMs),
      used: { ...c.used },
      totals: totalsOf(this.policy, c.used),
      closed: true,
      closed_at: ts(nowMs),
      plan: c.doc.plan,
      limits: { ...c.limits },
      at_limit: atLimit,
    };
  }

  /** Moves the subject's first open period forward: the update that closes it, conditional on the version read. */
  private markFields(c: Closing, nowMs: number): DocFields {
    const d = c.doc;
    const next = nextMark(this.policy, ctxOf(d), {
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

  /**
   * Closes one batch with the BulkWriter, in two waves: every history
   * document first (created, or updated only if unchanged since read), then
   * every user document, each only if unchanged since it was read. A document
   * that changed (a consume, a refund, another closer) is read again and
   * closed again if it still has this period open; one that no longer has it
   * is left alone. The history write precedes the move, so a kill between the
   * two leaves the period open and the rerun rewrites the same history.
   */
  private async closeDocs(
    key: string,
    docs: QuotaDoc[],
    nowMs: number,
  ): Promise<{ closed: number; summary: CloseTotals }> {
    const summary: CloseTotals = {};
    let closed = 0;
    let pending = await this.prepare(docs);
    for (let round = 0; pending.length > 0; round += 1) {
      if (round >= MAX_ROUNDS) {
        throw new Error(
          `closing ${key}: ${pending.length} documents kept changing under the close; rerun the reset`,
        );
      }
      const retry = new Set<string>();
      const bw = this.bulkWriter();
      const wave1 = pending.map((c) => {
        const w = historyWrite(
          this.policy,
          c.doc.id,
          c.mark,
          c.used,
          nowMs,
          this.historyMap(c, nowMs),
        );
        const ref = this.ctx.historyRef(c.doc.id, c.mark.key);
        const write = c.history?.exists
          ? bw.update(ref, flatten(w.data, w.mergeFields), {
              lastUpdateTime: c.history.updateTime!,
            })
          : bw.create(ref, w.data);
        return write.then(
          () => true,
          (e: unknown) => {
            const code = grpcCode(e);
            if (code === GRPC.ALREADY_EXISTS || code === GRPC.FAILED_PRECONDITION) {
              retry.add(c.doc.id);
              return false;
            }
            throw e;
          },
        );
      });
      await bw.flush();
      const ok1 = await Promise.all(wave1);
      const moving = pending.filter((_, i) => ok1[i]);
      const wave2 = moving.map((c) =>
        bw
          .update(this.ctx.quotaRef(c.doc.id), this.markFields(c, nowMs), {
            lastUpdateTime: c.doc.updateTime!,
          })
          .then(
            () => true,
            (e: unknown) => {
              const code = grpcCode(e);
              if (code === GRPC.FAILED_PRECONDITION || code === GRPC.NOT_FOUND) {
                retry.add(c.doc.id);
                return false;
              }
              throw e;
            },
          ),
      );
      await bw.close();
      const ok2 = await Promise.all(wave2);
      moving.forEach((c, i) => {
        if (!ok2[i]) return;
        closed += 1;
        for (const f of this.policy.catalog.features) {
          addUsage(summary, c.doc.plan, f, c.used[f] ?? 0, c.limits[f] ?? null);
        }
      });
      if (retry.size === 0) break;
      const ids = [...retry];
      const snaps = await this.ctx.db.getAll(...ids.map((id) => this.ctx.quotaRef(id)));
      const again = snaps
        .filter((s) => s.exists)
        .map((s) => parseQuotaDoc(this.policy, s, nowMs))
        .filter((d) => {
          const m = markOf(d);
          return m.key === key && m.endMs <= nowMs;
        });
      pending = await this.prepare(again);
      // A history document that exists now is updated under its own precondition next round.
      const historySnaps = pending.length
        ? await this.ctx.db.getAll(...pending.map((c) => this.ctx.historyRef(c.doc.id, c.mark.key)))
        : [];
      pending.forEach((c, i) => {
        c.history = historySnaps[i] ?? null;
      });
    }
    return { closed, summary };
  }

  async closeBatch(req: CloseBatchRequest): Promise<CloseBatchResult> {
    const page = await this.closePage(req);
    const cursor = encodeCursor(page.next);
    if (!req.write) {
      const prepared = await this.prepare(page.docs);
      const summary: CloseTotals = {};
      for (const c of prepared) {
        for (const f of this.policy.catalog.features)
          addUsage(summary, c.doc.plan, f, c.used[f] ?? 0, c.limits[f] ?? null);
      }
      return { closed: prepared.length, summary, cursor };
    }
    const { closed, summary } = await this.closeDocs(req.key, page.docs, req.nowMs);
    await this.checkpoint(req.key, cursor, closed, summary);
    return { closed, summary, cursor };
  }

  private prefetched: { id: string; page: Promise<ScanPage> } | null = null;

  /**
   * The documents of one batch. While a batch is being written, the next
   * batch is already being read (it is disjoint: it starts after this one's
   * last document); a document that changes in between fails its update's
   * precondition and is read again, so reading early costs no correctness.
   */
  private async closePage(req: CloseBatchRequest): Promise<ScanPage> {
    const id = JSON.stringify([req.key, req.nowMs, req.cursor, req.batchSize, req.write]);
    const hit = this.prefetched?.id === id ? this.prefetched.page : null;
    this.prefetched = null;
    const page = await (hit ??
      scanPage(this.ctx, req.nowMs, decodeCursor(req.cursor), req.batchSize, {
        key: req.key,
        select: CLOSE_FIELDS,
      }));
    if (page.next && req.write) {
      const nextCursor = encodeCursor(page.next);
      const next = scanPage(this.ctx, req.nowMs, page.next, req.batchSize, {
        key: req.key,
        select: CLOSE_FIELDS,
      });
      next.catch(() => undefined);
      this.prefetched = {
        id: JSON.stringify([req.key, req.nowMs, nextCursor, req.batchSize, req.write]),
        page: next,
      };
    }
    return page;
  }

  /** Adds a batch to the run's checkpoint (read-modify-write, so overlapping closers both count). */
  private async checkpoint(
    key: string,
    cursor: string | null,
    closed: number,
    summary: CloseTotals,
  ): Promise<void> {
    const ref = this.ctx.runRef(key);
    await runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) return;
      const cp = toRun(key, snap.data()!).checkpoint;
      const next: RunCheckpoint = {
        cursor,
        subjects: cp.subjects + closed,
        summary: mergeTotals(structuredClone(cp.summary), summary),
      };
      tx.update(ref, { checkpoint_json: JSON.stringify(next) });
    });
  }

  async previewBatch(
    nowMs: number,
    cursor: string | null,
    batchSize: number,
  ): Promise<PreviewBatchResult> {
    const page = await scanPage(
      this.ctx,
      nowMs,
      cursor === null ? START : decodeCursor(cursor),
      batchSize,
    );
    const byKey: PreviewBatchResult['byKey'] = {};
    // Counters of open periods other than the current one are in usage_history.
    const wanted: Array<{ d: QuotaDoc; p: Period }> = [];
    const plans = page.docs.map((d) => {
      const periods = endedOpenPeriods(
        this.policy,
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
      ? await this.ctx.db.getAll(...wanted.map((w) => this.ctx.historyRef(w.d.id, w.p.key)))
      : [];
    const usedOf = new Map<string, Record<string, number>>();
    wanted.forEach((w, i) => {
      const snap = snaps[i];
      const h = snap?.exists ? parseHistoryDoc(this.policy, w.d, snap) : null;
      usedOf.set(
        `${w.d.id}\u0000${w.p.startMs}`,
        h ? (h.managed ? h.used : legacyCounters(h)) : {},
      );
    });
    for (const { d, periods } of plans) {
      const limits = closingLimits(this.policy, d);
      for (const p of periods) {
        const used =
          p.startMs === d.current.startMs
            ? d.currentUsed
            : p.startMs > d.current.startMs
              ? {}
              : (usedOf.get(`${d.id}\u0000${p.startMs}`) ?? {});
        addPreviewPeriod(
          byKey,
          p,
          d.plan,
          this.policy.catalog.features,
          limits,
          (f) => used[f] ?? 0,
        );
      }
    }
    return { byKey, cursor: encodeCursor(page.next) };
  }

  // --- retention ---

  /**
   * `archive` hears the consume counts of the events deleted, so consume
   * totals outlive their events.
   */
  async prune(
    olderThanMs: number,
    archive: (gone: readonly DocumentSnapshot[]) => Promise<void>,
  ): Promise<{ periods: number; events: number }> {
    const bound = this.keyBound(olderThanMs);
    // Each parent's first open period: nothing at or after it is pruned.
    const parents = new Map<string, QuotaDoc | null>();
    const readParents = async (ids: string[]) => {
      const missing = [...new Set(ids)].filter((id) => !parents.has(id));
      for (let i = 0; i < missing.length; i += 300) {
        const chunk = missing.slice(i, i + 300);
        const snaps = await this.ctx.db.getAll(...chunk.map((id) => this.ctx.quotaRef(id)));
        snaps.forEach((s, j) =>
          parents.set(chunk[j]!, s.exists ? parseQuotaDoc(this.policy, s, olderThanMs) : null),
        );
      }
    };
    const markStart = (uid: string) => {
      const d = parents.get(uid);
      return d ? markOf(d).startMs : null;
    };
    const bw = this.bulkWriter();
    let periods = 0;
    let events = 0;
    const deletes: Array<Promise<unknown>> = [];
    // Closed periods: quotaclock's history documents, and the earlier system's of periods before the mark.
    const history = await this.ctx.db
      .collectionGroup(COLLECTIONS.history)
      .where('period', '<=', bound)
      .get();
    await readParents(history.docs.map((s) => s.ref.parent.parent!.id));
    for (const snap of history.docs) {
      const owner = parents.get(snap.ref.parent.parent!.id);
      if (!owner) continue;
      const mark = markOf(owner).startMs;
      const h = parseHistoryDoc(this.policy, owner, snap);
      if (!h.period || h.period.endMs > olderThanMs || h.period.endMs > mark) continue;
      if (h.managed && !h.closed) continue;
      deletes.push(bw.delete(snap.ref));
      periods += 1;
    }
    const ev = await this.ctx.db
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
    const notices = await this.ctx.db
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

  /** A period key no period ending at or before cutMs sorts after, in any zone. */
  private keyBound(cutMs: number): string {
    const p = this.policy.periods.at(
      { timeZone: 'Pacific/Kiritimati', anchorMs: 0 },
      cutMs + 2 * 86_400_000,
    );
    return p.key;
  }
}

/** Epoch ms where a period key's nominal UTC calendar unit starts: 2026, 2026-11, 2026-11-26, 2026-W48. */
export function keyStartUtc(key: string): number | null {
  let m = /^(\d{4})$/.exec(key);
  if (m) return Date.UTC(Number(m[1]), 0, 1);
  m = /^(\d{4})-(\d{2})$/.exec(key);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  m = /^(\d{4})-W(\d{2})$/.exec(key);
  if (m) {
    const jan4 = Date.UTC(Number(m[1]), 0, 4);
    const monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * 86_400_000;
    return monday + (Number(m[2]) - 1) * 7 * 86_400_000;
  }
  return null;
}

/** Turns {summary: {a: 1}} plus merge paths into update() field paths. */
function flatten(data: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    let v: unknown = data;
    for (const part of path.split('.')) v = (v as Record<string, unknown>)[part];
    out[path] = v;
  }
  return out;
}
