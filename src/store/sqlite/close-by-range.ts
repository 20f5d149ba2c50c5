import { addUsage, type CloseTotals } from '../../core/close-summary.js';
import { nextMark } from '../../core/closing.js';
import type { Limits } from '../../core/plans.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { CloseBatchRequest } from '../quota-store.js';
import type { Db } from './connection.js';

/**
 * The set-based close for calendar periods. Subjects in one zone share their
 * boundaries, so one batch is a rowid range closed with one INSERT … SELECT
 * and one conditional UPDATE per zone, instead of a statement per subject.
 * Subjects with limit overrides are left to the per-row path, so limits are
 * resolved by the core, never re-implemented in SQL.
 */
export class SqliteRangeCloser {
  private readonly maxRid;
  private readonly groups;
  private readonly subjectsByPlan;
  private readonly usageHistogram;
  private readonly archive;
  private readonly move;

  constructor(
    db: Db,
    private readonly policy: QuotaPolicy,
  ) {
    const inRange = `rid > @lo AND rid <= @hi AND open_key = @key AND open_end_ms <= @now AND overrides = '{}'`;
    const inGroup = `${inRange} AND closed_through_ms = @fromStart AND open_end_ms = @fromEnd AND time_zone IS @tz`;
    this.maxRid = db.prepare('SELECT COALESCE(MAX(rid), 0) AS m FROM subjects');
    this.groups = db.prepare(
      `SELECT closed_through_ms AS fromStart, open_end_ms AS fromEnd, time_zone AS tz, COUNT(*) AS n
       FROM subjects WHERE ${inRange} GROUP BY 1, 2, 3`,
    );
    this.subjectsByPlan = db.prepare(
      `SELECT plan, COUNT(*) AS n FROM subjects WHERE ${inGroup} GROUP BY plan`,
    );
    // A histogram of usage values per plan and feature is enough to count who was at the limit.
    this.usageHistogram = db.prepare(
      `SELECT s.plan, c.feature, c.used, COUNT(*) AS n FROM subjects s
       JOIN counters c ON c.subject_rid = s.rid AND c.period_start_ms = s.closed_through_ms
       WHERE ${inGroup.replace(/\b(rid|open_key|open_end_ms|overrides|closed_through_ms|time_zone)\b/g, 's.$1')}
       GROUP BY 1, 2, 3`,
    );
    this.archive = db.prepare(
      `INSERT OR IGNORE INTO closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
       SELECT rid, closed_through_ms, open_end_ms, open_key, plan,
              COALESCE(json_extract(@planLimits, '$."' || plan || '"'), '{}'), @closedMs
       FROM subjects WHERE ${inGroup}`,
    );
    this.move = db.prepare(
      `UPDATE subjects SET closed_through_ms = @toStart, open_end_ms = @toEnd, open_key = @toKey WHERE ${inGroup}`,
    );
  }

  /** The range [lo, hi] this batch covers, and the cursor after it (null past the last subject). */
  range(req: CloseBatchRequest): { lo: number; hi: number; next: string | null } {
    const lo = req.cursor === null ? 0 : Number(req.cursor);
    const hi = lo + req.batchSize;
    const max = (this.maxRid.get() as { m: number }).m;
    return { lo, hi, next: hi >= max ? null : String(hi) };
  }

  /** Closes (or, with write false, only counts) the override-free subjects of one range. */
  run(req: CloseBatchRequest, lo: number, hi: number): { closed: number; summary: CloseTotals } {
    const base = { lo, hi, key: req.key, now: req.nowMs };
    const planLimits: Record<string, Limits> = {};
    for (const p of this.policy.catalog.list())
      planLimits[p.name] = this.policy.catalog.limitsFor(p.name, {});
    const planLimitsJson = JSON.stringify(planLimits);
    const summary: CloseTotals = {};
    let closed = 0;
    for (const g of this.groups.all(base) as Array<{
      fromStart: number;
      fromEnd: number;
      tz: string | null;
      n: number;
    }>) {
      const group = { ...base, fromStart: g.fromStart, fromEnd: g.fromEnd, tz: g.tz };
      this.summarise(group, planLimits, summary);
      closed += g.n;
      if (!req.write) continue;
      const to = nextMark(
        this.policy,
        { timeZone: g.tz, anchorMs: 0 },
        { closedThroughMs: g.fromStart, openEndMs: g.fromEnd, openKey: req.key },
      );
      this.archive.run({ ...group, planLimits: planLimitsJson, closedMs: req.nowMs });
      this.move.run({
        ...group,
        toStart: to.closedThroughMs,
        toEnd: to.openEndMs,
        toKey: to.openKey,
      });
    }
    return { closed, summary };
  }

  private summarise(
    group: Record<string, unknown>,
    planLimits: Record<string, Limits>,
    summary: CloseTotals,
  ): void {
    const counts = new Map(
      (this.subjectsByPlan.all(group) as Array<{ plan: string; n: number }>).map((r) => [
        r.plan,
        r.n,
      ]),
    );
    const rows = this.usageHistogram.all(group) as Array<{
      plan: string;
      feature: string;
      used: number;
      n: number;
    }>;
    for (const [plan, n] of counts) {
      const limits = planLimits[plan] ?? {};
      for (const feature of this.policy.catalog.features) {
        const limit = plan in planLimits ? (limits[feature] ?? null) : null;
        let withUsage = 0;
        for (const r of rows) {
          if (r.plan !== plan || r.feature !== feature) continue;
          withUsage += r.n;
          addUsage(summary, plan, feature, r.used, limit, r.n);
        }
        if (n > withUsage) addUsage(summary, plan, feature, 0, limit, n - withUsage);
      }
    }
  }
}
