import { FieldPath, type DocumentSnapshot } from '@google-cloud/firestore';
import { latestEndOfKey, ruleZonePeriodOfKey, zoneEndWindow } from '../../core/period-key.js';
import type { PendingPeriod } from '../quota-store.js';
import { PLACEMENT_FIELDS, scanAll, scanPage, type ScanCursor } from './candidates.js';
import type { FsContext } from './context.js';
import { LEGACY_END_OFFSET_MS, markOf, parseQuotaDoc, toMs, ts, type QuotaDoc } from './layout.js';

/** Which periods have subjects left open, and how many: what the reset job asks before it closes. */
export class FsOpenPeriods {
  constructor(private readonly ctx: FsContext) {}

  private get policy() {
    return this.ctx.policy;
  }

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
    const p = this.countable() ? ruleZonePeriodOfKey(this.policy.periods, key) : null;
    if (p !== null) return this.countOpen(key, p.endMs, nowMs);
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
    const bound = latestEndOfKey(this.policy.rule, key);
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

  /** openCount by count aggregations, for a key of a countable rule ending at endMs in the rule's zone. */
  private async countOpen(
    key: string,
    endMs: number,
    nowMs: number,
  ): Promise<{ ended: number; notYetEnded: number }> {
    const stashes = await this.stashes(nowMs);
    const w = this.window(endMs);
    const endedBy = nowMs - LEGACY_END_OFFSET_MS;
    let ended = w.lo <= endedBy ? await this.countEnds(w.lo, Math.min(w.hi, endedBy), stashes) : 0;
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

  /** Calendar weeks, months and years: a key's ends fall in one window no other key's do. */
  private countable(): boolean {
    return this.policy.rule.anchor === 'calendar' && this.policy.rule.every !== 'day';
  }

  /** The instants (as stored, one second before the end) a period ending near endMs may end at in any zone. */
  private window(endMs: number): { lo: number; hi: number } {
    return zoneEndWindow(endMs - LEGACY_END_OFFSET_MS);
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
}
