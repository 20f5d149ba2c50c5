import { BadInputError, SubjectNotFoundError } from '../../core/errors.js';
import { periodView, remainingOf, type QuotaPolicy } from '../../core/policy.js';
import { resolveNewSubject } from '../../core/subject-rules.js';
import type { ConsumeResult, Metadata } from '../../core/types.js';
import { isUniqueViolation, type PgDb } from './pool.js';
import { parseOverrides, type SubjectDbRow } from './rows.js';
import type { PgSubjects } from './subjects.js';

/**
 * The whole consume in ONE statement, so check and increment are atomic
 * without a transaction around a read:
 * - `prior`: the stored outcome of an earlier call with the same key;
 * - `up`: the guarded upsert; the counter is written only when the new total
 *   fits the limit (Postgres locks the row and re-evaluates the guard on its
 *   latest version, so concurrent writers can never overshoot);
 * - `d`: the decision. A denial is final only when the counter value this
 *   statement's snapshot saw would also be denied; otherwise a concurrent
 *   writer changed it after the snapshot and the caller re-runs the statement
 *   rather than report a stale number;
 * - `ev`: the event row, with the outcome JSON for keyed calls. A concurrent
 *   call with the same key hits the unique index and the whole statement
 *   (counter increment included) rolls back.
 *
 * $1 rid, $2 start, $3 end, $4 period key, $5 feature, $6 amount, $7 limit
 * (null = unlimited), $8 suspended, $9 at, $10 idempotency key, $11 meta,
 * $12 period view JSON, $13 accept a stale denial (last attempt only).
 */
export function consumeSql(s: string): string {
  const remaining = `CASE WHEN $7::bigint IS NULL THEN NULL ELSE GREATEST(0, $7::bigint - d.used) END`;
  return `WITH prior AS (
  SELECT outcome FROM ${s}.events
  WHERE $10::text IS NOT NULL AND subject_rid = $1::bigint AND idem_key = $10::text AND outcome IS NOT NULL
), up AS (
  INSERT INTO ${s}.counters AS c (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
  SELECT $1::bigint, $2::bigint, $5::text, $3::bigint, $4::text, $6::bigint
  WHERE NOT $8::boolean AND NOT EXISTS (SELECT 1 FROM prior) AND ($7::bigint IS NULL OR $6::bigint <= $7::bigint)
  ON CONFLICT (subject_rid, period_start_ms, feature)
  DO UPDATE SET used = c.used + excluded.used
  WHERE $7::bigint IS NULL OR c.used + excluded.used <= $7::bigint
  RETURNING c.used
), d AS (
  SELECT x.granted, x.used,
         x.granted OR $8::boolean OR $13::boolean OR ($7::bigint IS NOT NULL AND x.used + $6::bigint > $7::bigint) AS final
  FROM (
    SELECT g.used IS NOT NULL AS granted,
           COALESCE(g.used, (SELECT used FROM ${s}.counters
                             WHERE subject_rid = $1::bigint AND period_start_ms = $2::bigint AND feature = $5::text), 0) AS used
    FROM (SELECT 1) one LEFT JOIN up g ON true
  ) x
  WHERE NOT EXISTS (SELECT 1 FROM prior)
), ev AS (
  INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
  SELECT $1::bigint, 'consume', $5::text, $2::bigint, $3::bigint, $9::bigint, $6::bigint,
         CASE WHEN d.granted THEN $6::bigint ELSE 0 END, d.used, $7::bigint, $10::text,
         CASE
           WHEN $10::text IS NULL THEN NULL
           WHEN d.granted THEN json_build_object('granted', true, 'used', d.used, 'limit', $7::bigint,
             'remaining', ${remaining}, 'period', $12::json)::text
           ELSE json_build_object('granted', false, 'used', d.used, 'limit', $7::bigint,
             'remaining', ${remaining}, 'period', $12::json,
             'reason', CASE WHEN $8::boolean THEN 'suspended' ELSE 'quota_exceeded' END)::text
         END,
         $11::text
  FROM d WHERE d.final
)
SELECT (SELECT outcome FROM prior) AS prior, d.granted, d.used, d.final
FROM (SELECT 1) one LEFT JOIN d ON true`;
}

interface ConsumeRow {
  prior: string | null;
  granted: boolean | null;
  used: number | null;
  final: boolean | null;
}

/** How many times a denial that saw a stale counter is re-run before it is reported as it stands. */
const STALE_RETRIES = 20;

export class PgConsume {
  private readonly sql: string;
  private readonly name: string;

  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
    private readonly subjects: PgSubjects,
  ) {
    this.sql = consumeSql(db.s);
    this.name = `qc_consume_${db.schema}`;
  }

  private async subjectFor(id: string, nowMs: number): Promise<SubjectDbRow> {
    const row = await this.subjects.row(null, id);
    if (row) return row;
    if (!this.policy.autoCreateSubjects) throw new SubjectNotFoundError(id);
    const resolved = resolveNewSubject(this.policy, { id }, nowMs);
    // Two first consumes racing: one inserts, the other reads the winner's row.
    return (
      (await this.subjects.insertResolved(null, resolved, 'subject.auto_create')) ??
      (await this.subjects.require(null, id))
    );
  }

  async consume(
    id: string,
    feature: string,
    amount: number,
    key: string | undefined,
    meta: Metadata | undefined,
    nowMs: number,
  ): Promise<ConsumeResult> {
    const s = await this.subjectFor(id, nowMs);
    const period = this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, nowMs);
    const limit = this.policy.catalog.limitFor(s.plan, parseOverrides(s.overrides), feature);
    const view = periodView(period);
    const values: unknown[] = [
      s.rid,
      period.startMs,
      period.endMs,
      period.key,
      feature,
      amount,
      limit,
      s.suspended,
      nowMs,
      key ?? null,
      meta === undefined ? null : JSON.stringify(meta),
      JSON.stringify(view),
      false,
    ];
    for (let attempt = 0; ; attempt += 1) {
      values[12] = attempt >= STALE_RETRIES;
      let row: ConsumeRow;
      try {
        // With a key the statement is idempotent, so a broken connection may be retried.
        const res = await this.db.query<ConsumeRow>(this.sql, values, {
          idempotent: key !== undefined,
          name: this.name,
        });
        row = res.rows[0]!;
      } catch (e) {
        if (key !== undefined && isUniqueViolation(e, 'events_idem'))
          return this.replay(s, id, key);
        throw e;
      }
      if (row.prior !== null)
        return { ...(JSON.parse(row.prior) as ConsumeResult), replayed: true };
      if (!row.final) continue;
      const granted = row.granted === true;
      const used = row.used ?? 0;
      return {
        granted,
        used,
        limit,
        remaining: remainingOf(limit, used),
        period: view,
        ...(granted ? {} : { reason: s.suspended ? 'suspended' : 'quota_exceeded' }),
      };
    }
  }

  /** A concurrent call with the same key committed first: its outcome is the answer. */
  private async replay(s: SubjectDbRow, id: string, key: string): Promise<ConsumeResult> {
    const res = await this.db.query<{ outcome: string | null }>(
      `SELECT outcome FROM ${this.db.s}.events WHERE subject_rid = $1 AND idem_key = $2`,
      [s.rid, key],
    );
    const outcome = res.rows[0]?.outcome;
    if (!outcome) {
      throw new BadInputError(
        `key: "${key}" is already used by another event of subject "${id}"`,
        'key',
      );
    }
    return { ...(JSON.parse(outcome) as ConsumeResult), replayed: true };
  }
}
