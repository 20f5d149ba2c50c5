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
import type { Client, PgDb } from './pool.js';
import { PRUNED, labelKey } from '../row-mapping.js';
import { closingLimits } from '../sql/close-plan.js';
import { atLimitIds, bucketsOf } from '../sql/usage-rules.js';
import type { PgSubjects } from './subjects.js';
import { verifyPostgres } from './verify.js';

const PAGE = 2000;

const CONSUME_SUMS = `COUNT(*) FILTER (WHERE delta > 0) AS g, COUNT(*) FILTER (WHERE delta = 0) AS d,
  COALESCE(SUM(delta) FILTER (WHERE delta > 0), 0) AS u`;

/**
 * Called by prune inside its transaction, before it deletes events: adds the
 * consumes about to go to the archived totals, and drops threshold notices of
 * periods that ended before the cut.
 */
export async function archiveBeforePrune(
  c: Client,
  s: string,
  cutMs: number,
  nowMs: number,
): Promise<void> {
  await c.query(
    `WITH gone AS (
       SELECT ${CONSUME_SUMS} FROM ${s}.events e JOIN ${s}.subjects s ON s.rid = e.subject_rid
       WHERE e.kind = 'consume' AND e.period_end_ms <= $1 AND e.period_end_ms <= s.closed_through_ms
     )
     INSERT INTO ${s}.job_metrics AS m (name, labels, value, updated_ms)
     SELECT v.name, '', v.value, $2 FROM gone, LATERAL (VALUES ($3, gone.g), ($4, gone.d), ($5, gone.u)) v(name, value)
     WHERE v.value <> 0
     ON CONFLICT (name, labels) DO UPDATE SET value = m.value + excluded.value, updated_ms = excluded.updated_ms`,
    [cutMs, nowMs, PRUNED.granted, PRUNED.denied, PRUNED.units],
  );
  await c.query(`DELETE FROM ${s}.threshold_notices WHERE period_end_ms <= $1`, [cutMs]);
}

interface UsageRow {
  rid: number;
  id: string;
  plan: string;
  overrides: string;
  closed_plan?: string | null;
  closed_limits?: string | null;
  feature: string | null;
  used: number | null;
}

/**
 * The monitoring role: integrity checks, subjects at their limit, threshold
 * dedup, job metrics and the read-only queries behind `quotaclock report` and
 * `metrics`.
 */
export class PgMonitoring implements StoreMonitoring {
  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
    private readonly subjects: PgSubjects,
  ) {}

  private get s() {
    return this.db.s;
  }

  verify(nowMs: number): Promise<IntegrityViolation[]> {
    return verifyPostgres(this.db, this.policy, nowMs);
  }

  async subjectsAtLimit(nowMs: number, limit = 1000): Promise<Subject[]> {
    const rows = (
      await this.db.query<{
        id: string;
        plan: string;
        overrides: string;
        feature: string;
        used: number;
      }>(
        `SELECT s.id, s.plan, s.overrides, c.feature, c.used FROM ${this.s}.counters c JOIN ${this.s}.subjects s ON s.rid = c.subject_rid
         WHERE c.period_start_ms <= $1 AND c.period_end_ms > $1 AND c.used > 0 ORDER BY s.id`,
        [nowMs],
      )
    ).rows;
    const ids = atLimitIds(this.policy, rows, limit);
    const found = await Promise.all(ids.map((id) => this.subjects.getSubject(id)));
    return found.filter((s) => s !== null);
  }

  async claimThresholdNotice(n: ThresholdNotice, nowMs: number): Promise<boolean> {
    const res = await this.db.query(
      `INSERT INTO ${this.s}.threshold_notices (subject, feature, period_start_ms, threshold, period_end_ms, at_ms)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [n.subject, n.feature, n.periodStartMs, n.threshold, n.periodEndMs, nowMs],
      // A retry after an unknown outcome would say "not first" and lose one notice; never send two.
      { idempotent: false },
    );
    return res.rowCount === 1;
  }

  async recordJobMetrics(samples: readonly JobMetricSample[], nowMs: number): Promise<void> {
    if (samples.length === 0) return;
    await this.db.tx(
      async (c) => {
        for (const x of samples) {
          await c.query(
            `INSERT INTO ${this.s}.job_metrics AS m (name, labels, value, updated_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name, labels) DO UPDATE SET value = ${x.mode === 'set' ? 'excluded.value' : 'm.value + excluded.value'},
               updated_ms = excluded.updated_ms`,
            [x.name, labelKey(x.labels), x.value, nowMs],
          );
        }
      },
      { idempotent: false },
    );
  }

  async jobMetrics(): Promise<JobMetric[]> {
    const res = await this.db.query<{
      name: string;
      labels: string;
      value: number;
      updated_ms: number;
    }>(
      `SELECT name, labels, value, updated_ms FROM ${this.s}.job_metrics
       WHERE name <> ALL($1::text[]) ORDER BY name, labels`,
      [Object.values(PRUNED)],
    );
    return res.rows.map((r) => ({
      name: r.name,
      labels: r.labels ? (JSON.parse(r.labels) as Record<string, string>) : {},
      value: r.value,
      updatedMs: r.updated_ms,
    }));
  }

  async consumeTotals(): Promise<ConsumeTotals> {
    return this.db.tx(
      async (c) => {
        const live = (
          await c.query<{ g: number; d: number; u: number }>(
            `SELECT ${CONSUME_SUMS} FROM ${this.s}.events WHERE kind = 'consume'`,
          )
        ).rows[0]!;
        const archived = new Map(
          (
            await c.query<{ name: string; value: number }>(
              `SELECT name, value FROM ${this.s}.job_metrics WHERE labels = '' AND name = ANY($1::text[])`,
              [Object.values(PRUNED)],
            )
          ).rows.map((r) => [r.name, r.value]),
        );
        return {
          granted: live.g + (archived.get(PRUNED.granted) ?? 0),
          denied: live.d + (archived.get(PRUNED.denied) ?? 0),
          unitsGranted: live.u + (archived.get(PRUNED.units) ?? 0),
        };
      },
      { idempotent: true, mode: 'snapshot' },
    );
  }

  async usageBuckets(fromMs: number, toMs: number, bucketMs: number): Promise<UsageBucket[]> {
    const bucket = Math.max(1, Math.floor(bucketMs));
    const res = await this.db.query<{ b: number; feature: string; used: number; denied: number }>(
      `SELECT (at_ms - $1) / $3 AS b, feature,
              COALESCE(SUM(delta) FILTER (WHERE kind IN ('consume', 'refund')), 0) AS used,
              COUNT(*) FILTER (WHERE kind = 'consume' AND delta = 0) AS denied
       FROM ${this.s}.events WHERE at_ms >= $1 AND at_ms < $2 GROUP BY 1, 2 ORDER BY 1, 2`,
      [fromMs, toMs, bucket],
    );
    return bucketsOf(res.rows, fromMs, bucketMs);
  }

  private limitsOf(plan: string, overrides: string): Record<string, Limit> {
    return closingLimits(this.policy, { plan, overrides });
  }

  /** Pages of subjects by rid; one short query per page, so a long report never holds a snapshot open. */
  private async *ridPages(): AsyncGenerator<{ lo: number; hi: number }> {
    let after = 0;
    for (;;) {
      const rids = (
        await this.db.query<{ rid: number }>(
          `SELECT rid FROM ${this.s}.subjects WHERE rid > $1 ORDER BY rid LIMIT $2`,
          [after, PAGE],
        )
      ).rows.map((r) => r.rid);
      if (rids.length === 0) return;
      yield { lo: rids[0]!, hi: rids[rids.length - 1]! };
      if (rids.length < PAGE) return;
      after = rids[rids.length - 1]!;
    }
  }

  /** Folds rows ordered by rid into one SubjectUsage per subject. */
  private *fold(
    rows: readonly UsageRow[],
    limitsOf: (r: UsageRow) => { plan: string; limits: Record<string, Limit> },
  ): Generator<SubjectUsage> {
    let current:
      { rid: number; usage: SubjectUsage & { used: Record<string, number> } } | undefined;
    for (const r of rows) {
      if (!current || current.rid !== r.rid) {
        if (current) yield current.usage;
        current = { rid: r.rid, usage: { subject: r.id, ...limitsOf(r), used: {} } };
      }
      if (r.feature !== null) current.usage.used[r.feature] = r.used ?? 0;
    }
    if (current) yield current.usage;
  }

  async *periodUsage(key: string, endMs: number): AsyncGenerator<SubjectUsage> {
    for await (const { lo, hi } of this.ridPages()) {
      const res = await this.db.query<UsageRow>(
        `SELECT s.rid, s.id, s.plan, s.overrides, cp.plan AS closed_plan, cp.limits AS closed_limits, c.feature, c.used
         FROM ${this.s}.subjects s
         LEFT JOIN ${this.s}.closed_periods cp ON cp.subject_rid = s.rid AND cp.period_key = $1
         LEFT JOIN ${this.s}.counters c ON c.subject_rid = s.rid AND c.period_key = $1
         WHERE s.rid BETWEEN $2 AND $3
           AND (cp.subject_rid IS NOT NULL OR c.subject_rid IS NOT NULL OR (s.open_key <= $1 AND s.created_ms < $4))
         ORDER BY s.rid`,
        [key, lo, hi, endMs],
      );
      yield* this.fold(res.rows, (r) => ({
        plan: r.closed_plan ?? r.plan,
        limits: r.closed_limits
          ? (JSON.parse(r.closed_limits) as Record<string, Limit>)
          : this.limitsOf(r.plan, r.overrides),
      }));
    }
  }

  async *windowUsage(fromMs: number, toMs: number): AsyncGenerator<SubjectUsage> {
    for await (const { lo, hi } of this.ridPages()) {
      const res = await this.db.query<UsageRow>(
        `SELECT s.rid, s.id, s.plan, s.overrides, e.feature, SUM(e.delta) AS used
         FROM ${this.s}.events e JOIN ${this.s}.subjects s ON s.rid = e.subject_rid
         WHERE e.subject_rid BETWEEN $1 AND $2 AND e.at_ms >= $3 AND e.at_ms < $4 AND e.kind IN ('consume', 'refund')
         GROUP BY s.rid, s.id, s.plan, s.overrides, e.feature ORDER BY s.rid`,
        [lo, hi, fromMs, toMs],
      );
      yield* this.fold(res.rows, (r) => ({
        plan: r.plan,
        limits: this.limitsOf(r.plan, r.overrides),
      }));
    }
  }
}
