import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type {
  CloseBatchRequest,
  CloseBatchResult,
  PendingPeriod,
  PreviewBatchResult,
  RunCheckpoint,
  StoreCloser,
} from '../quota-store.js';
import type { Db } from './connection.js';
import type { RunRow } from '../row-mapping.js';
import { SqliteRangeCloser } from './close-by-range.js';
import * as closePlan from '../sql/close-plan.js';
import { archiveBeforePrune } from './monitoring.js';
import { advanceCheckpoint } from '../shared/ledger-rules.js';
import type { Synchronous } from '../shared/compose-store.js';

/** The closer role: pending periods, period close, dry-run preview and prune. */
export class SqliteClose implements Synchronous<StoreCloser> {
  private readonly closeRowsStmt;
  private readonly overrideRows;
  private readonly rangeCloser;
  private readonly insertClosed;
  private readonly moveMarks;
  private readonly runByKey;

  constructor(
    private readonly db: Db,
    private readonly policy: QuotaPolicy,
  ) {
    this.rangeCloser = new SqliteRangeCloser(db, policy);
    this.overrideRows = db.prepare(
      `SELECT s.rid, s.plan, s.overrides, s.time_zone, s.anchor_ms, s.closed_through_ms, s.open_end_ms, s.open_key, c.feature, c.used
       FROM subjects s LEFT JOIN counters c ON c.subject_rid = s.rid AND c.period_start_ms = s.closed_through_ms
       WHERE s.rid > @lo AND s.rid <= @hi AND s.open_key = @key AND s.open_end_ms <= @now AND s.overrides <> '{}'
       ORDER BY s.rid`,
    );
    this.closeRowsStmt = db.prepare(
      `SELECT s.rid, s.plan, s.overrides, s.time_zone, s.anchor_ms, s.closed_through_ms, s.open_end_ms, s.open_key, c.feature, c.used
       FROM (SELECT rid, plan, overrides, time_zone, anchor_ms, closed_through_ms, open_end_ms, open_key FROM subjects
             WHERE open_key = @key AND rid > @cursor AND open_end_ms <= @now ORDER BY rid LIMIT @batch) s
       LEFT JOIN counters c ON c.subject_rid = s.rid AND c.period_start_ms = s.closed_through_ms
       ORDER BY s.rid`,
    );
    this.insertClosed = db.prepare(
      `INSERT OR IGNORE INTO closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
       SELECT s.rid, @fromStart, @fromEnd, @key, @plan, @limits, @closedMs FROM subjects s
       WHERE s.rid IN (SELECT value FROM json_each(@rids)) AND s.closed_through_ms = @fromStart`,
    );
    // Conditional on the old mark: a subject closes once even if two runs overlap.
    this.moveMarks = db.prepare(
      `UPDATE subjects SET closed_through_ms = @toStart, open_end_ms = @toEnd, open_key = @toKey
       WHERE rid IN (SELECT value FROM json_each(@rids)) AND closed_through_ms = @fromStart`,
    );
    this.runByKey = db.prepare('SELECT * FROM runs WHERE key = ?');
  }

  pendingPeriods(nowMs: number): PendingPeriod[] {
    const rows = this.db
      .prepare(
        `SELECT open_key AS key, COUNT(*) AS n, MIN(closed_through_ms) AS s, MAX(open_end_ms) AS e
         FROM subjects WHERE open_end_ms <= ? GROUP BY open_key ORDER BY open_key`,
      )
      .all(nowMs) as Array<{ key: string; n: number; s: number; e: number }>;
    return rows.map((r) => ({ key: r.key, subjects: r.n, startMs: r.s, endMs: r.e }));
  }

  openCount(key: string, nowMs: number): { ended: number; notYetEnded: number } {
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(open_end_ms <= @now), 0) AS ended, COALESCE(SUM(open_end_ms > @now), 0) AS later
         FROM subjects WHERE open_key = @key`,
      )
      .get({ key, now: nowMs }) as { ended: number; later: number };
    return { ended: r.ended, notYetEnded: r.later };
  }

  /**
   * Calendar rules close a rowid range set-based (SqliteRangeCloser), then
   * the subjects in it that carry overrides row by row; anniversary rules,
   * where every subject has its own boundaries, go row by row throughout.
   */
  closeBatch(req: CloseBatchRequest): CloseBatchResult {
    const work = (): CloseBatchResult => {
      let result: CloseBatchResult;
      if (this.policy.rule.anchor === 'calendar') {
        const { lo, hi, next } = this.rangeCloser.range(req);
        const fast = this.rangeCloser.run(req, lo, hi);
        const rest = this.closeRows(
          req,
          this.overrideRows.all({ key: req.key, lo, hi, now: req.nowMs }) as closePlan.CloseRow[],
        );
        result = {
          closed: fast.closed + rest.closed,
          summary: mergeTotals(fast.summary, rest.summary),
          cursor: next,
        };
      } else {
        const rows = this.closeRowsStmt.all({
          key: req.key,
          cursor: closePlan.ridAfter(req.cursor),
          now: req.nowMs,
          batch: req.batchSize,
        }) as closePlan.CloseRow[];
        const r = this.closeRows(req, rows);
        result = {
          closed: r.closed,
          summary: r.summary,
          cursor: closePlan.nextRidCursor(r.subjects, req.batchSize),
        };
      }
      if (req.write) this.saveCheckpoint(req.ledgerKey ?? req.key, result);
      return result;
    };
    // The writes and the checkpoint commit together, so a kill between batches loses nothing and repeats nothing.
    return req.write ? this.db.transaction(work).immediate() : this.db.transaction(work).deferred();
  }

  private saveCheckpoint(key: string, batch: CloseBatchResult): void {
    const run = this.runByKey.get(key) as RunRow | undefined;
    if (!run) return;
    const next = advanceCheckpoint(JSON.parse(run.checkpoint) as RunCheckpoint, batch);
    this.db.prepare('UPDATE runs SET checkpoint = ? WHERE key = ?').run(JSON.stringify(next), key);
  }

  /**
   * Closes the given subjects one group of identical moves at a time. The
   * immediate transaction holds the write lock, so every subject read is moved.
   */
  private closeRows(
    req: CloseBatchRequest,
    rows: closePlan.CloseRow[],
  ): { closed: number; summary: CloseTotals; subjects: closePlan.CloseSubjectRow[] } {
    const subjects = closePlan.subjectsOf(rows);
    if (req.write) {
      for (const g of closePlan.moveGroups(this.policy, subjects)) {
        const rids = JSON.stringify(g.rids);
        this.insertClosed.run({ ...groupParams(g), rids, closedMs: req.nowMs });
        this.moveMarks.run({ ...groupParams(g), rids });
      }
    }
    return {
      closed: subjects.length,
      summary: closePlan.closedTotals(this.policy, subjects),
      subjects: subjects.map((u) => u.head),
    };
  }

  previewBatch(nowMs: number, cursor: string | null, batchSize: number): PreviewBatchResult {
    return this.db
      .transaction(() => {
        const subjects = this.db
          .prepare(
            `SELECT ${closePlan.CLOSE_COLUMNS} FROM subjects WHERE open_end_ms <= ? AND rid > ? ORDER BY rid LIMIT ?`,
          )
          .all(nowMs, closePlan.ridAfter(cursor), batchSize) as closePlan.CloseSubjectRow[];
        const usedStmt = this.db.prepare(
          'SELECT period_start_ms, feature, used FROM counters WHERE subject_rid = ? AND period_start_ms >= ? AND period_start_ms < ?',
        );
        const byKey: PreviewBatchResult['byKey'] = {};
        for (const s of subjects) {
          const counters = usedStmt.all(s.rid, s.closed_through_ms, nowMs) as Array<{
            period_start_ms: number;
            feature: string;
            used: number;
          }>;
          closePlan.addPreviewSubject(
            this.policy,
            byKey,
            s,
            nowMs,
            (start, f) =>
              counters.find((c) => c.period_start_ms === start && c.feature === f)?.used ?? 0,
          );
        }
        return { byKey, cursor: closePlan.nextRidCursor(subjects, batchSize) };
      })
      .deferred();
  }

  prune(olderThanMs: number, nowMs = Date.now()): { periods: number; events: number } {
    return this.db
      .transaction(() => {
        const periods = this.db
          .prepare('DELETE FROM closed_periods WHERE end_ms <= ?')
          .run(olderThanMs).changes;
        const closedOnly = `period_end_ms <= @cut AND period_end_ms <= (SELECT closed_through_ms FROM subjects WHERE rid = subject_rid)`;
        this.db.prepare(`DELETE FROM counters WHERE ${closedOnly}`).run({ cut: olderThanMs });
        archiveBeforePrune(this.db, closedOnly, { cut: olderThanMs }, olderThanMs, nowMs);
        const events = this.db
          .prepare(`DELETE FROM events WHERE ${closedOnly}`)
          .run({ cut: olderThanMs }).changes;
        return { periods, events };
      })
      .immediate();
  }
}

/** A move group's statement parameters (the subjects' usage is not one). */
function groupParams(g: closePlan.MoveGroup) {
  const { usage: _usage, rids: _rids, ...params } = g;
  return params;
}
