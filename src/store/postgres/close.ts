import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import { BadInputError } from '../../core/errors.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type {
  CloseBatchRequest,
  CloseBatchResult,
  OpenCount,
  PendingPeriod,
  PreviewBatchResult,
  RunCheckpoint,
  StoreCloser,
} from '../quota-store.js';
import type { Client, PgDb } from './pool.js';
import { archiveBeforePrune } from './monitoring.js';
import { PgRangeCloser, PLANNER_DEFAULTS, RANGE_PLANNER } from './close-by-range.js';
import { advanceCheckpoint, type CheckpointStep } from '../shared/ledger-rules.js';
import * as closePlan from '../sql/close-plan.js';

/** A checkpoint (as stored) with one step added. */
function advanced(text: string, step: CheckpointStep): string {
  return JSON.stringify(advanceCheckpoint(JSON.parse(text) as RunCheckpoint, step));
}

/** The closer role: pending periods, period close, dry-run preview and prune. */
export class PgClose implements StoreCloser {
  private readonly ranger;

  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
  ) {
    this.ranger = new PgRangeCloser(db.s, policy);
  }

  private get s() {
    return this.db.s;
  }

  async pendingPeriods(nowMs: number): Promise<PendingPeriod[]> {
    return (await this.openPeriods(nowMs, null)).pending;
  }

  /**
   * The pending periods and this key's open subjects from one scan of
   * subjects: there is no index on the marks (migration 3), so each count
   * reads the whole table (about 0.1–0.2 s per 1M subjects).
   */
  async openCount(key: string, nowMs: number): Promise<OpenCount> {
    const { pending, keyRow } = await this.openPeriods(nowMs, key);
    return { ended: keyRow?.ended ?? 0, notYetEnded: keyRow?.later ?? 0, pending };
  }

  private async openPeriods(nowMs: number, key: string | null) {
    const res = await this.db.query<{
      key: string;
      ended: number;
      later: number;
      s: number | null;
      e: number | null;
    }>(
      `SELECT open_key AS key, COUNT(*) FILTER (WHERE open_end_ms <= $1) AS ended,
              COUNT(*) FILTER (WHERE open_end_ms > $1) AS later,
              MIN(closed_through_ms) FILTER (WHERE open_end_ms <= $1) AS s,
              MAX(open_end_ms) FILTER (WHERE open_end_ms <= $1) AS e
       FROM ${this.s}.subjects WHERE open_end_ms <= $1 OR open_key = $2
       GROUP BY open_key ORDER BY open_key`,
      [nowMs, key],
    );
    const pending: PendingPeriod[] = res.rows
      .filter((r) => r.ended > 0)
      .map((r) => ({ key: r.key, subjects: r.ended, startMs: r.s!, endMs: r.e! }));
    return { pending, keyRow: res.rows.find((r) => r.key === key) };
  }

  /**
   * The next batch of subjects with this key ended and open, in rid order,
   * with their usage in that period; sharded by a hash of the id. Nothing is
   * locked: the write that follows is conditional on each subject's mark, so
   * a subject a concurrent closer took first is simply not moved (or counted)
   * here.
   */
  private async batch(
    c: Client,
    req: CloseBatchRequest,
  ): Promise<{ subjects: closePlan.SubjectUsage[]; cursor: string | null }> {
    const subjects = await this.readSubjects(
      c,
      `rid > $2 AND open_end_ms <= $3 AND ($5::int IS NULL OR mod(abs(hashtext(id)::bigint), $5::int) = $6::int)
       ORDER BY rid LIMIT $4`,
      req,
      [closePlan.ridAfter(req.cursor), req.nowMs, req.batchSize],
    );
    const cursor = closePlan.nextRidCursor(
      subjects.map((u) => u.head),
      req.batchSize,
    );
    return { subjects, cursor };
  }

  /** The subjects with limit overrides in one rid range, which the range closer leaves to the row path. */
  private overrideSubjects(
    c: Client,
    req: CloseBatchRequest,
    lo: number,
    hi: number,
  ): Promise<closePlan.SubjectUsage[]> {
    return this.readSubjects(
      c,
      `rid > $2 AND rid <= $4 AND open_end_ms <= $3 AND overrides <> '{}'
       AND ($5::int IS NULL OR mod(abs(hashtext(id)::bigint), $5::int) = $6::int)`,
      req,
      [lo, req.nowMs, hi],
    );
  }

  /** Subjects with this key matching `where` ($1 key, $2–$4 from `args`, $5/$6 the shard), with their usage. */
  private async readSubjects(
    c: Client,
    where: string,
    req: CloseBatchRequest,
    args: [number, number, number],
  ): Promise<closePlan.SubjectUsage[]> {
    const shard = req.shard && req.shard.count > 1 ? req.shard : null;
    const res = await c.query<closePlan.CloseRow>(
      `SELECT s.*, c.feature, c.used FROM (
         SELECT ${closePlan.CLOSE_COLUMNS} FROM ${this.s}.subjects WHERE open_key = $1 AND ${where}
       ) s
       LEFT JOIN ${this.s}.counters c ON c.subject_rid = s.rid AND c.period_start_ms = s.closed_through_ms
       ORDER BY s.rid`,
      [req.key, ...args, shard?.count ?? null, shard?.index ?? 0],
    );
    return closePlan.subjectsOf(res.rows);
  }

  /**
   * Moves one group's marks and records their closed period in one
   * statement. The update is conditional on the old mark, so a subject is
   * closed once even if two runs overlap; it returns the rids it moved.
   */
  private async moveGroup(
    c: Client,
    g: closePlan.MoveGroup,
    closedMs: number,
  ): Promise<Set<number>> {
    const res = await c.query<{ rid: number }>(
      `WITH moved AS (
         UPDATE ${this.s}.subjects SET closed_through_ms = $1, open_end_ms = $2, open_key = $3
         WHERE rid = ANY($4::bigint[]) AND closed_through_ms = $5
         RETURNING rid
       ), ins AS (
         INSERT INTO ${this.s}.closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
         SELECT rid, $5, $6, $7, $8, $9, $10 FROM moved
         ON CONFLICT (subject_rid, start_ms) DO NOTHING
       )
       SELECT rid FROM moved`,
      [
        g.toStart,
        g.toEnd,
        g.toKey,
        g.rids,
        g.fromStart,
        g.fromEnd,
        g.key,
        g.plan,
        g.limits,
        closedMs,
      ],
    );
    return new Set(res.rows.map((r) => r.rid));
  }

  /** Closes the given subjects group by group (or only counts them, with write false). */
  private async closeSubjects(
    c: Client,
    req: CloseBatchRequest,
    subjects: closePlan.SubjectUsage[],
  ): Promise<{ closed: number; summary: CloseTotals }> {
    if (!req.write)
      return { closed: subjects.length, summary: closePlan.closedTotals(this.policy, subjects) };
    const summary: CloseTotals = {};
    let closed = 0;
    for (const g of closePlan.moveGroups(this.policy, subjects)) {
      const moved = await this.moveGroup(c, g, req.nowMs);
      for (const u of g.usage) {
        if (!moved.has(u.head.rid)) continue;
        closed += 1;
        closePlan.addClosedSubject(this.policy, summary, u);
      }
    }
    return { closed, summary };
  }

  /** The checkpoint this process last committed, for advanceCheckpoint's compare-and-set. */
  private lastCheckpoint: { key: string; checkpoint: string } | null = null;

  /**
   * Adds a batch to its run's checkpoint. Usually one statement: an update
   * conditional on the checkpoint being the one this process last committed.
   * If anything else wrote it since (or the process has not written it yet),
   * it reads the row under lock and adds to what is there. Measured: the read
   * was a quarter of a range batch's round trips.
   */
  private async advanceCheckpoint(
    c: Client,
    key: string,
    batch: CheckpointStep,
  ): Promise<{ key: string; checkpoint: string } | null> {
    const last = this.lastCheckpoint?.key === key ? this.lastCheckpoint.checkpoint : null;
    if (last !== null) {
      const checkpoint = advanced(last, batch);
      const res = await c.query(
        `UPDATE ${this.s}.runs SET checkpoint = $1 WHERE key = $2 AND checkpoint = $3`,
        [checkpoint, key, last],
      );
      if (res.rowCount === 1) return { key, checkpoint };
    }
    const current = await this.lockCheckpoint(c, key);
    if (current === null) return null;
    return { key, checkpoint: await this.writeCheckpoint(c, key, current, batch) };
  }

  /** The run's checkpoint, with its ledger row locked until the transaction ends; null without a row. */
  private async lockCheckpoint(c: Client, key: string): Promise<string | null> {
    const res = await c.query<{ checkpoint: string }>(
      `SELECT checkpoint FROM ${this.s}.runs WHERE key = $1 FOR UPDATE`,
      [key],
    );
    return res.rows[0]?.checkpoint ?? null;
  }

  /** Writes `current` (read under lock) advanced by one step; returns what it wrote. */
  private async writeCheckpoint(
    c: Client,
    key: string,
    current: string,
    step: CheckpointStep,
  ): Promise<string> {
    const checkpoint = advanced(current, step);
    await c.query(`UPDATE ${this.s}.runs SET checkpoint = $1 WHERE key = $2`, [checkpoint, key]);
    return checkpoint;
  }

  async closeBatch(req: CloseBatchRequest): Promise<CloseBatchResult> {
    const shard = req.shard;
    if (
      shard &&
      !(
        Number.isInteger(shard.count) &&
        Number.isInteger(shard.index) &&
        shard.count >= 1 &&
        shard.index >= 0 &&
        shard.index < shard.count
      )
    ) {
      // The message names the request's field; `where` is the code every caller maps to its own wording.
      throw new BadInputError(
        `shard: expected i/n with 0 ≤ i < n, got ${String(shard.index)}/${String(shard.count)}`,
        '--shard',
      );
    }
    const calendar = this.policy.rule.anchor === 'calendar';
    const local = calendar ? RANGE_PLANNER : {};
    if (!req.write) {
      return this.db.tx((c) => this.closeWork(c, req), {
        idempotent: true,
        mode: 'snapshot',
        local,
      });
    }
    // A batch lost to a server crash is lost with its checkpoint, and the rerun
    // redoes it; finishing the run commits synchronously, which flushes every
    // batch before the period is reported closed.
    const opts = { idempotent: false, lazyCommit: calendar, local };
    const key = req.ledgerKey ?? req.key;
    const parts = calendar ? this.partsOf(req) : [req];
    if (parts.length > 1) return this.closeParts(parts, key, opts);
    let written: { key: string; checkpoint: string } | null = null;
    const result = await this.db.tx(async (c) => {
      const r = await this.closeWork(c, req);
      // The checkpoint commits with the batch: a kill between batches loses nothing and repeats nothing.
      written = await this.advanceCheckpoint(c, key, r);
      return r;
    }, opts);
    // Only a committed checkpoint is remembered.
    if (written) this.lastCheckpoint = written;
    return result;
  }

  /**
   * The parts of one batch, each in its own transaction on its own
   * connection, each committing its subjects to the checkpoint. The first
   * part locks the ledger row before anything else and the others start once
   * it holds it, so the others' checkpoint updates queue behind its commit:
   * a later part advances the cursor only past a prefix of committed parts
   * (with two parts, exactly to the batch's end; with more, it may trail,
   * which a resume only re-reads). Every wait is on a PostgreSQL lock, where
   * the server's deadlock detector sees it, never on another part in Node.
   */
  private async closeParts(
    parts: readonly CloseBatchRequest[],
    key: string,
    opts: Parameters<PgDb['tx']>[1],
  ): Promise<CloseBatchResult> {
    // These checkpoints are not written by compare-and-set.
    this.lastCheckpoint = null;
    let firstHoldsLedger!: () => void;
    const ledgerHeld = new Promise<void>((resolve) => (firstHoldsLedger = resolve));
    const running = parts.map(async (part, i) => {
      if (i > 0) await ledgerHeld;
      try {
        return await this.db.tx(async (c) => {
          let checkpoint: string | null = null;
          if (i === 0) {
            checkpoint = await this.lockCheckpoint(c, key);
            firstHoldsLedger();
          }
          const r = await this.closeWork(c, part);
          if (i > 0) checkpoint = await this.lockCheckpoint(c, key);
          if (checkpoint === null) return r;
          const prefixClosed =
            i === 0 || (JSON.parse(checkpoint) as RunCheckpoint).cursor === part.cursor;
          await this.writeCheckpoint(c, key, checkpoint, {
            ...(prefixClosed ? { cursor: r.cursor } : {}),
            closed: r.closed,
            summary: r.summary,
          });
          return r;
        }, opts);
      } finally {
        // A first part that failed before locking must not hold the others back.
        if (i === 0) firstHoldsLedger();
      }
    });
    const settled = await Promise.allSettled(running);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const done = settled.map((s) => (s as PromiseFulfilledResult<CloseBatchResult>).value);
    const summary: CloseTotals = {};
    let closed = 0;
    for (const r of done) {
      closed += r.closed;
      mergeTotals(summary, r.summary);
    }
    return { closed, summary, cursor: done[done.length - 1]!.cursor };
  }

  /**
   * A calendar batch's rid range split into close_parallel parts of equal
   * size, each a batch request of its own. Measured on 2 cores, 1M subjects:
   * the batch statements alone took 0.6 of their one-connection time on two
   * connections, the whole reset 0.84–0.91.
   */
  private partsOf(req: CloseBatchRequest): CloseBatchRequest[] {
    const n = Math.min(this.db.options.closeParallel, req.batchSize);
    if (n <= 1) return [req];
    const lo = req.cursor === null ? 0 : Number(req.cursor);
    const size = Math.ceil(req.batchSize / n);
    const parts: CloseBatchRequest[] = [];
    for (let from = lo; from < lo + req.batchSize; from += size) {
      parts.push({
        ...req,
        cursor: from === lo ? req.cursor : String(from),
        batchSize: Math.min(size, lo + req.batchSize - from),
      });
    }
    return parts;
  }

  /** One batch (or part) closed, or with write false only counted, in the caller's transaction. */
  private async closeWork(c: Client, req: CloseBatchRequest): Promise<CloseBatchResult> {
    if (this.policy.rule.anchor !== 'calendar') {
      const batch = await this.batch(c, req);
      const { closed, summary } = await this.closeSubjects(c, req, batch.subjects);
      return { closed, summary, cursor: batch.cursor };
    }
    const range = await this.ranger.close(c, req);
    let rest: { closed: number; summary: CloseTotals } = { closed: 0, summary: {} };
    if (range.overrides) {
      await c.query(PLANNER_DEFAULTS);
      rest = await this.closeSubjects(
        c,
        req,
        await this.overrideSubjects(c, req, range.lo, range.hi),
      );
    }
    return {
      closed: range.closed + rest.closed,
      summary: mergeTotals(range.summary, rest.summary),
      cursor: range.next,
    };
  }

  async previewBatch(
    nowMs: number,
    cursor: string | null,
    batchSize: number,
  ): Promise<PreviewBatchResult> {
    return this.db.tx(
      async (c) => {
        const subjects = (
          await c.query<closePlan.CloseSubjectRow>(
            `SELECT ${closePlan.CLOSE_COLUMNS} FROM ${this.s}.subjects
             WHERE open_end_ms <= $1 AND rid > $2 ORDER BY rid LIMIT $3`,
            [nowMs, closePlan.ridAfter(cursor), batchSize],
          )
        ).rows;
        const counters = (
          await c.query<{
            subject_rid: number;
            period_start_ms: number;
            feature: string;
            used: number;
          }>(
            `SELECT c.subject_rid, c.period_start_ms, c.feature, c.used
             FROM ${this.s}.counters c JOIN ${this.s}.subjects s ON s.rid = c.subject_rid
             WHERE c.subject_rid = ANY($1::bigint[]) AND c.period_start_ms >= s.closed_through_ms AND c.period_start_ms < $2`,
            [subjects.map((s) => s.rid), nowMs],
          )
        ).rows;
        const usedOf = new Map<string, number>();
        for (const r of counters)
          usedOf.set(`${r.subject_rid}|${r.period_start_ms}|${r.feature}`, r.used);
        const byKey: PreviewBatchResult['byKey'] = {};
        for (const s of subjects) {
          closePlan.addPreviewSubject(
            this.policy,
            byKey,
            s,
            nowMs,
            (start, f) => usedOf.get(`${s.rid}|${start}|${f}`) ?? 0,
          );
        }
        return { byKey, cursor: closePlan.nextRidCursor(subjects, batchSize) };
      },
      { idempotent: true, mode: 'snapshot' },
    );
  }

  async prune(
    olderThanMs: number,
    nowMs = Date.now(),
  ): Promise<{ periods: number; events: number }> {
    return this.db.tx(
      async (c) => {
        const periods = await c.query(`DELETE FROM ${this.s}.closed_periods WHERE end_ms <= $1`, [
          olderThanMs,
        ]);
        // Only periods the job has closed: an open period keeps its counters and events whatever its age.
        await archiveBeforePrune(c, this.s, olderThanMs, nowMs);
        await c.query(
          `DELETE FROM ${this.s}.counters c USING ${this.s}.subjects s
           WHERE s.rid = c.subject_rid AND c.period_end_ms <= $1 AND c.period_end_ms <= s.closed_through_ms`,
          [olderThanMs],
        );
        const events = await c.query(
          `DELETE FROM ${this.s}.events e USING ${this.s}.subjects s
           WHERE s.rid = e.subject_rid AND e.period_end_ms <= $1 AND e.period_end_ms <= s.closed_through_ms`,
          [olderThanMs],
        );
        return { periods: periods.rowCount ?? 0, events: events.rowCount ?? 0 };
      },
      { idempotent: true },
    );
  }
}
