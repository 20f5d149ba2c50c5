import type { Limit } from '../../core/plans.js';
import type { QuotaPolicy } from '../../core/policy.js';
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
import type { Db } from './connection.js';
import { PRUNED, labelKey } from '../row-mapping.js';
import type { Synchronous } from '../shared/compose-store.js';
import { closingLimits } from '../sql/close-plan.js';
import { atLimitIds, bucketsOf, type CounterOfSubject } from '../sql/usage-rules.js';
import type { SqliteSubjects } from './subjects.js';
import { verifySqlite } from './verify.js';

const PAGE = 2000;

/**
 * Called by prune inside its transaction, before it deletes events: adds the
 * consumes about to go to the archived totals, and drops threshold notices
 * of periods that ended before the cut.
 */
export function archiveBeforePrune(
  db: Db,
  eventsWhere: string,
  params: Record<string, unknown>,
  cutMs: number,
  nowMs: number,
): void {
  const gone = db
    .prepare(
      `SELECT COALESCE(SUM(delta > 0), 0) AS g, COALESCE(SUM(delta = 0), 0) AS d, COALESCE(SUM(CASE WHEN delta > 0 THEN delta ELSE 0 END), 0) AS u
       FROM events WHERE kind = 'consume' AND ${eventsWhere}`,
    )
    .get(params) as { g: number; d: number; u: number };
  const add = db.prepare(
    `INSERT INTO job_metrics (name, labels, value, updated_ms) VALUES (?, '', ?, ?)
     ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value, updated_ms = excluded.updated_ms`,
  );
  if (gone.g) add.run(PRUNED.granted, gone.g, nowMs);
  if (gone.d) add.run(PRUNED.denied, gone.d, nowMs);
  if (gone.u) add.run(PRUNED.units, gone.u, nowMs);
  db.prepare('DELETE FROM threshold_notices WHERE period_end_ms <= ?').run(cutMs);
}

/**
 * The monitoring role: integrity checks, subjects at their limit, threshold
 * dedup, job metrics and the read-only queries behind `quotaclock report` and
 * `metrics`.
 */
export class SqliteMonitoring implements Synchronous<StoreMonitoring> {
  private readonly claim;
  private readonly setMetric;
  private readonly addMetric;

  constructor(
    private readonly db: Db,
    private readonly policy: QuotaPolicy,
    private readonly subjects: SqliteSubjects,
  ) {
    this.claim = db.prepare(
      `INSERT INTO threshold_notices (subject, feature, period_start_ms, threshold, period_end_ms, at_ms)
       VALUES (@subject, @feature, @periodStartMs, @threshold, @periodEndMs, @at) ON CONFLICT DO NOTHING`,
    );
    this.setMetric = db.prepare(
      `INSERT INTO job_metrics (name, labels, value, updated_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (name, labels) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
    );
    this.addMetric = db.prepare(
      `INSERT INTO job_metrics (name, labels, value, updated_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value, updated_ms = excluded.updated_ms`,
    );
  }

  verify(nowMs: number): IntegrityViolation[] {
    return verifySqlite(this.db, this.policy, nowMs);
  }

  subjectsAtLimit(nowMs: number, limit = 1000): Subject[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.plan, s.overrides, c.feature, c.used FROM counters c JOIN subjects s ON s.rid = c.subject_rid
         WHERE c.period_start_ms <= ? AND c.period_end_ms > ? AND c.used > 0 ORDER BY s.id`,
      )
      .all(nowMs, nowMs) as CounterOfSubject[];
    return atLimitIds(this.policy, rows, limit)
      .map((id) => this.subjects.getSubject(id)!)
      .filter(Boolean);
  }

  claimThresholdNotice(n: ThresholdNotice, nowMs: number): boolean {
    return this.claim.run({ ...n, at: nowMs }).changes === 1;
  }

  recordJobMetrics(samples: readonly JobMetricSample[], nowMs: number): void {
    this.db
      .transaction(() => {
        for (const s of samples) {
          (s.mode === 'set' ? this.setMetric : this.addMetric).run(
            s.name,
            labelKey(s.labels),
            s.value,
            nowMs,
          );
        }
      })
      .immediate();
  }

  jobMetrics(): JobMetric[] {
    const rows = this.db
      .prepare('SELECT name, labels, value, updated_ms FROM job_metrics ORDER BY name, labels')
      .all() as Array<{
      name: string;
      labels: string;
      value: number;
      updated_ms: number;
    }>;
    return rows
      .filter((r) => !Object.values(PRUNED).includes(r.name as never))
      .map((r) => ({
        name: r.name,
        labels: r.labels ? (JSON.parse(r.labels) as Record<string, string>) : {},
        value: r.value,
        updatedMs: r.updated_ms,
      }));
  }

  consumeTotals(): ConsumeTotals {
    const live = this.db
      .prepare(
        `SELECT COALESCE(SUM(delta > 0), 0) AS g, COALESCE(SUM(delta = 0), 0) AS d, COALESCE(SUM(CASE WHEN delta > 0 THEN delta ELSE 0 END), 0) AS u
         FROM events WHERE kind = 'consume'`,
      )
      .get() as { g: number; d: number; u: number };
    const archived = new Map(
      (
        this.db
          .prepare(`SELECT name, value FROM job_metrics WHERE labels = '' AND name IN (?, ?, ?)`)
          .all(PRUNED.granted, PRUNED.denied, PRUNED.units) as Array<{
          name: string;
          value: number;
        }>
      ).map((r) => [r.name, r.value]),
    );
    return {
      granted: live.g + (archived.get(PRUNED.granted) ?? 0),
      denied: live.d + (archived.get(PRUNED.denied) ?? 0),
      unitsGranted: live.u + (archived.get(PRUNED.units) ?? 0),
    };
  }

  usageBuckets(fromMs: number, toMs: number, bucketMs: number): UsageBucket[] {
    const rows = this.db
      .prepare(
        `SELECT (at_ms - @from) / @bucket AS b, feature,
                SUM(CASE WHEN kind IN ('consume', 'refund') THEN delta ELSE 0 END) AS used,
                SUM(CASE WHEN kind = 'consume' AND delta = 0 THEN 1 ELSE 0 END) AS denied
         FROM events WHERE at_ms >= @from AND at_ms < @to GROUP BY b, feature ORDER BY b, feature`,
      )
      .all({ from: fromMs, to: toMs, bucket: Math.max(1, Math.floor(bucketMs)) }) as Array<{
      b: number;
      feature: string;
      used: number;
      denied: number;
    }>;
    return bucketsOf(rows, fromMs, bucketMs);
  }

  private limitsOf(plan: string, overrides: string): Record<string, Limit> {
    return closingLimits(this.policy, { plan, overrides });
  }

  /** Pages of subjects by rid; one short read transaction per page, so a long report never blocks writers. */
  private *ridPages(): Generator<{ lo: number; hi: number }> {
    const page = this.db
      .prepare('SELECT rid FROM subjects WHERE rid > ? ORDER BY rid LIMIT ?')
      .pluck();
    let after = 0;
    for (;;) {
      const rids = page.all(after, PAGE) as number[];
      if (rids.length === 0) return;
      yield { lo: rids[0]!, hi: rids[rids.length - 1]! };
      if (rids.length < PAGE) return;
      after = rids[rids.length - 1]!;
    }
  }

  *periodUsage(key: string, endMs: number): Generator<SubjectUsage> {
    const stmt = this.db.prepare(
      `SELECT s.rid, s.id, s.plan, s.overrides, cp.plan AS closed_plan, cp.limits AS closed_limits, c.feature, c.used
       FROM subjects s
       LEFT JOIN closed_periods cp ON cp.subject_rid = s.rid AND cp.period_key = @key
       LEFT JOIN counters c ON c.subject_rid = s.rid AND c.period_key = @key
       WHERE s.rid BETWEEN @lo AND @hi
         AND (cp.subject_rid IS NOT NULL OR c.subject_rid IS NOT NULL OR (s.open_key <= @key AND s.created_ms < @end))
       ORDER BY s.rid`,
    );
    for (const { lo, hi } of this.ridPages()) {
      const rows = stmt.all({ key, lo, hi, end: endMs }) as Array<{
        rid: number;
        id: string;
        plan: string;
        overrides: string;
        closed_plan: string | null;
        closed_limits: string | null;
        feature: string | null;
        used: number | null;
      }>;
      let current:
        { rid: number; usage: SubjectUsage & { used: Record<string, number> } } | undefined;
      for (const r of rows) {
        if (!current || current.rid !== r.rid) {
          if (current) yield current.usage;
          const plan = r.closed_plan ?? r.plan;
          const limits = r.closed_limits
            ? (JSON.parse(r.closed_limits) as Record<string, Limit>)
            : this.limitsOf(r.plan, r.overrides);
          current = { rid: r.rid, usage: { subject: r.id, plan, limits, used: {} } };
        }
        if (r.feature !== null) current.usage.used[r.feature] = r.used ?? 0;
      }
      if (current) yield current.usage;
    }
  }

  *windowUsage(fromMs: number, toMs: number): Generator<SubjectUsage> {
    const stmt = this.db.prepare(
      `SELECT s.rid, s.id, s.plan, s.overrides, e.feature, SUM(e.delta) AS used
       FROM events e JOIN subjects s ON s.rid = e.subject_rid
       WHERE e.subject_rid BETWEEN @lo AND @hi AND e.at_ms >= @from AND e.at_ms < @to AND e.kind IN ('consume', 'refund')
       GROUP BY e.subject_rid, e.feature ORDER BY e.subject_rid`,
    );
    for (const { lo, hi } of this.ridPages()) {
      const rows = stmt.all({ lo, hi, from: fromMs, to: toMs }) as Array<
        CounterOfSubject & { rid: number }
      >;
      let current:
        { rid: number; usage: SubjectUsage & { used: Record<string, number> } } | undefined;
      for (const r of rows) {
        if (!current || current.rid !== r.rid) {
          if (current) yield current.usage;
          current = {
            rid: r.rid,
            usage: {
              subject: r.id,
              plan: r.plan,
              limits: this.limitsOf(r.plan, r.overrides),
              used: {},
            },
          };
        }
        current.usage.used[r.feature] = r.used;
      }
      if (current) yield current.usage;
    }
  }
}
