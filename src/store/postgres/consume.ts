import {
  BadInputError,
  IdempotencyKeyReusedError,
  SubjectNotFoundError,
} from '../../core/errors.js';
import { fingerprintDiffers } from '../../core/idempotency.js';
import { periodView, remainingOf, type QuotaPolicy } from '../../core/policy.js';
import type { Limits } from '../../core/plans.js';
import { resolveNewSubject } from '../../core/subject-rules.js';
import type {
  ConsumeItem,
  ConsumeResult,
  ItemOutcome,
  Metadata,
  PeriodView,
} from '../../core/types.js';
import { PgConsumeMany } from './consume-many.js';
import { grantGrouped, type PreparedGrant } from './consume-many-grant.js';
import { settleItem } from '../../core/item-outcome.js';
import { answerClock, type AnswerClock } from '../../core/answer-clock.js';
import { grantBatchSql, grantGroupsSql } from './grant-batch-sql.js';
import { GrantBatcher } from './grant-batcher.js';
import { periodFieldsSql } from './outcome-sql.js';
import { isUniqueViolation, type PgDb } from './pool.js';
import { parseOverrides, type SubjectDbRow } from './rows.js';
import type { PgSubjects } from './subjects.js';

/**
 * The whole consume in ONE statement, so check and increment are atomic
 * without a transaction around a read:
 * - `subj`: the subject's plan, overrides and suspension are still what the
 *   caller computed the limit from (its cached copy); if not, nothing is
 *   written and the caller re-reads the subject and runs again;
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
 * $12 answer JSON (outcome-sql.ts), $13 accept a stale denial (last attempt only),
 * $14 subject id, $15 plan, $16 overrides (as stored), $17 request fingerprint.
 */
export function consumeSql(s: string): string {
  const remaining = `CASE WHEN $7::bigint IS NULL THEN NULL ELSE GREATEST(0, $7::bigint - d.used) END`;
  return `WITH subj AS (
  SELECT 1 FROM ${s}.subjects
  WHERE rid = $1::bigint AND id = $14::text AND plan = $15::text AND overrides = $16::text AND suspended = $8::boolean
), prior AS (
  SELECT outcome, fingerprint FROM ${s}.events
  WHERE $10::text IS NOT NULL AND subject_rid = $1::bigint AND idem_key = $10::text AND outcome IS NOT NULL
    AND EXISTS (SELECT 1 FROM subj)
), up AS (
  INSERT INTO ${s}.counters AS c (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
  SELECT $1::bigint, $2::bigint, $5::text, $3::bigint, $4::text, $6::bigint
  WHERE NOT $8::boolean AND ($7::bigint IS NULL OR $6::bigint <= $7::bigint)
    AND EXISTS (SELECT 1 FROM subj) AND NOT EXISTS (SELECT 1 FROM prior)
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
  WHERE EXISTS (SELECT 1 FROM subj) AND NOT EXISTS (SELECT 1 FROM prior)
), ev AS (
  INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
  SELECT $1::bigint, 'consume', $5::text, $2::bigint, $3::bigint, $9::bigint, $6::bigint,
         CASE WHEN d.granted THEN $6::bigint ELSE 0 END, d.used, $7::bigint, $10::text,
         CASE
           WHEN $10::text IS NULL THEN NULL
           WHEN d.granted THEN json_build_object('granted', true, 'used', d.used, 'limit', $7::bigint,
             'remaining', ${remaining}, ${periodFieldsSql('$12')})::text
           ELSE json_build_object('granted', false, 'used', d.used, 'limit', $7::bigint,
             'remaining', ${remaining}, ${periodFieldsSql('$12')},
             'reason', CASE WHEN $8::boolean THEN 'suspended' ELSE 'quota_exceeded' END)::text
         END,
         $11::text, CASE WHEN $10::text IS NULL THEN NULL ELSE $17::text END
  FROM d WHERE d.final
)
SELECT EXISTS (SELECT 1 FROM subj) AS fresh, (SELECT outcome FROM prior) AS prior,
       (SELECT fingerprint FROM prior) AS prior_fingerprint, d.granted, d.used, d.final
FROM (SELECT 1) one LEFT JOIN d ON true`;
}

/**
 * The fast path: the grant as one statement, the same durable work as a
 * hand-written guarded upsert plus event row. The subjects row is the INSERT's
 * source, so a subject whose plan, overrides or suspension changed since it
 * was cached yields no row, like a denial. No row means "not granted here":
 * the caller runs the full statement, which decides and reports exactly. A
 * repeated key hits the unique index and the whole statement rolls back.
 *
 * $1 rid, $2 start, $3 end, $4 period key, $5 feature, $6 amount, $7 limit,
 * $8 at, $9 meta, $10 subject id, $11 plan, $12 overrides, $13 idempotency
 * key, $14 answer JSON (outcome-sql.ts), $15 request fingerprint.
 */
export function grantSql(s: string): string {
  return `WITH up AS (
  INSERT INTO ${s}.counters AS c (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
  SELECT s.rid, $2::bigint, $5::text, $3::bigint, $4::text, $6::bigint FROM ${s}.subjects s
  WHERE s.rid = $1::bigint AND s.id = $10::text AND s.plan = $11::text AND s.overrides = $12::text AND NOT s.suspended
    AND ($7::bigint IS NULL OR $6::bigint <= $7::bigint)
  ON CONFLICT (subject_rid, period_start_ms, feature)
  DO UPDATE SET used = c.used + excluded.used
  WHERE $7::bigint IS NULL OR c.used + excluded.used <= $7::bigint
  RETURNING c.used
)
INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
SELECT $1::bigint, 'consume', $5::text, $2::bigint, $3::bigint, $8::bigint, $6::bigint, $6::bigint, up.used, $7::bigint, $13::text,
  CASE WHEN $13::text IS NULL THEN NULL
       ELSE json_build_object('granted', true, 'used', up.used, 'limit', $7::bigint,
         'remaining', CASE WHEN $7::bigint IS NULL THEN NULL ELSE GREATEST(0, $7::bigint - up.used) END,
         ${periodFieldsSql('$14')})::text
  END,
  $9::text, $15::text
FROM up
RETURNING used_after`;
}

interface ConsumeRow {
  fresh: boolean;
  prior: string | null;
  prior_fingerprint: string | null;
  granted: boolean | null;
  used: number | null;
  final: boolean | null;
}

/** How many times a denial that saw a stale counter is re-run before it is reported as it stands. */
const STALE_RETRIES = 20;

type SubjectFields = Pick<
  SubjectDbRow,
  'rid' | 'id' | 'plan' | 'overrides' | 'suspended' | 'time_zone' | 'anchor_ms'
>;

/**
 * What consume needs of a subject; its plan, overrides and suspension are
 * re-checked by the statement. The overrides are parsed once, when cached.
 */
type CachedSubject = SubjectFields & { readonly limits: Limits };

const CACHE_MAX = 100_000;

export class PgConsume {
  private readonly sql: string;
  private readonly name: string;
  private readonly grants: GrantBatcher;
  private readonly groups: { text: string; name: string };
  /**
   * Subjects this process has seen. A cached copy is only a guess: the
   * consume statement writes nothing unless the row still matches it, so a
   * change made by another process costs one re-read, never a wrong limit.
   */
  private readonly cache = new Map<string, CachedSubject>();
  private readonly views = new Map<string, string>();
  private readonly many: PgConsumeMany;

  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
    private readonly subjects: PgSubjects,
  ) {
    this.sql = consumeSql(db.s);
    this.name = `qc_consume_${db.schema}`;
    this.groups = { text: grantGroupsSql(db.s), name: `qc_grant_groups_${db.schema}` };
    this.grants = new GrantBatcher(
      db,
      { text: grantSql(db.s), name: `qc_grant_${db.schema}` },
      { text: grantBatchSql(db.s), name: `qc_grant_batch_${db.schema}` },
      this.groups,
      db.options.grantSlots,
    );
    this.many = new PgConsumeMany(db, policy, subjects, this);
  }

  /**
   * Many consumes: first the grouped grant in one statement
   * (consume-many-grant.ts), then the rest, in order, in one transaction
   * (consume-many.ts), which decides them exactly.
   */
  async consumeMany(
    items: readonly ConsumeItem[],
    nowMs: number,
  ): Promise<ItemOutcome<ConsumeResult>[]> {
    await this.cacheSubjects(items.map((i) => i.subject));
    const prepared = items.map((item) => {
      const s = this.cache.get(item.subject);
      if (s === undefined || s.suspended) return undefined;
      const fp = item.key === undefined ? null : (item.fingerprint ?? null);
      const meta = item.meta === undefined ? null : JSON.stringify(item.meta);
      const one = settleItem(() =>
        this.prepareGrant(s, item.feature, item.amount, item.key, meta, nowMs, fp),
      );
      return one.ok ? one.result : undefined;
    });
    const granted = await grantGrouped(this.db, this.groups, prepared, items);
    const rest = items.flatMap((item, i) => (granted[i] === undefined ? [{ item, i }] : []));
    const decided =
      rest.length === 0
        ? []
        : await this.many.consumeMany(
            rest.map((r) => r.item),
            nowMs,
          );
    // The granted answers, with the transaction's outcomes in the places it decided.
    const out = granted.map((result): ItemOutcome<ConsumeResult> => ({
      ok: true,
      result: result!,
    }));
    rest.forEach((r, j) => (out[r.i] = decided[j]!));
    return out;
  }

  /** Reads the batch's subjects this process has not cached, in one query. */
  private async cacheSubjects(ids: readonly string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.cache.has(id));
    if (missing.length === 0) return;
    for (const row of await this.subjects.rows(missing)) this.remember(row);
  }

  /** Drops cached subjects this process has just changed (or all of them). */
  forget(ids?: Iterable<string>): void {
    if (ids === undefined) this.cache.clear();
    else for (const id of ids) this.cache.delete(id);
  }

  private async load(id: string, nowMs: number): Promise<CachedSubject> {
    let row = await this.subjects.row(null, id);
    if (!row) {
      if (!this.policy.autoCreateSubjects) throw new SubjectNotFoundError(id);
      const resolved = resolveNewSubject(this.policy, { id }, nowMs);
      // Two first consumes racing: one inserts, the other reads the winner's row.
      const inserted = await this.subjects.insertResolved(null, resolved, 'subject.auto_create');
      if (inserted) this.policy.subjectAutoCreated(id, inserted.plan);
      row = inserted ?? (await this.subjects.require(null, id));
    }
    return this.remember(row);
  }

  private remember(row: SubjectFields): CachedSubject {
    const s: CachedSubject = {
      rid: row.rid,
      id: row.id,
      plan: row.plan,
      overrides: row.overrides,
      limits: parseOverrides(row.overrides),
      suspended: row.suspended,
      time_zone: row.time_zone,
      anchor_ms: row.anchor_ms,
    };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(s.id, s);
    return s;
  }

  /** The answer's period fields as JSON (outcome-sql.ts), built once per period and second rather than once per call. */
  answerJson(view: PeriodView, clock: AnswerClock): string {
    const id = `${view.start}|${view.end}|${view.key}|${clock.timeZone}|${clock.secondsLeft}`;
    let text = this.views.get(id);
    if (text === undefined) {
      text = JSON.stringify({ period: view, ...clock });
      if (this.views.size >= 1000) this.views.clear();
      this.views.set(id, text);
    }
    return text;
  }

  async consume(
    id: string,
    feature: string,
    amount: number,
    key: string | undefined,
    meta: Metadata | undefined,
    nowMs: number,
    fingerprint: string | null = null,
  ): Promise<ConsumeResult> {
    let s = this.cache.get(id) ?? (await this.load(id, nowMs));
    const metaText = meta === undefined ? null : JSON.stringify(meta);
    // Only a keyed consume keeps its fingerprint: it is what a retry is compared with.
    const fp = key === undefined ? null : fingerprint;
    // The fast path; it grants nothing when denied, for a stale subject or a repeated key.
    const grant = s.suspended
      ? undefined
      : this.prepareGrant(s, feature, amount, key, metaText, nowMs, fp);
    const used = grant && (await this.grants.submit(grant.values));
    if (grant && used !== undefined) return grant.answer(used);
    let stale = 0;
    for (let attempt = 0; ; attempt += 1) {
      const { period, limit, view, clock } = this.standing(s, feature, nowMs);
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
        metaText,
        this.answerJson(view, clock),
        stale >= STALE_RETRIES,
        s.id,
        s.plan,
        s.overrides,
        fp,
      ];
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
          return this.replay(s, id, key, fp, nowMs);
        throw e;
      }
      if (!row.fresh) {
        // Another process changed the subject since it was cached: read it again, decide again.
        if (attempt > 50) throw new Error(`subject "${id}" keeps changing; consume gave up`);
        s = await this.load(id, nowMs);
        continue;
      }
      if (row.prior !== null) {
        if (fingerprintDiffers(row.prior_fingerprint, fp))
          throw new IdempotencyKeyReusedError(key!);
        return this.replayOf(row.prior, s, nowMs);
      }
      if (!row.final) {
        stale += 1;
        continue;
      }
      const granted = row.granted === true;
      const used = row.used ?? 0;
      return {
        granted,
        used,
        limit,
        remaining: remainingOf(limit, used),
        period: view,
        ...clock,
        ...(granted ? {} : { reason: s.suspended ? 'suspended' : 'quota_exceeded' }),
      };
    }
  }

  /** Where a consume of the feature stands: the subject's period now, its limit, and the answer's period and clock fields. */
  private standing(s: CachedSubject, feature: string, nowMs: number) {
    const period = this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, nowMs);
    return {
      period,
      limit: this.policy.catalog.limitFor(s.plan, s.limits, feature),
      view: periodView(period),
      clock: this.clockOf(s, period, nowMs),
    };
  }

  /** A grant's statement values and its answer; undefined when the amount can never fit. */
  private prepareGrant(
    s: CachedSubject,
    feature: string,
    amount: number,
    key: string | undefined,
    metaText: string | null,
    nowMs: number,
    fingerprint: string | null,
  ): PreparedGrant | undefined {
    const { period, limit, view, clock } = this.standing(s, feature, nowMs);
    if (limit !== null && amount > limit) return undefined;
    return {
      values: [
        s.rid,
        period.startMs,
        period.endMs,
        period.key,
        feature,
        amount,
        limit,
        nowMs,
        metaText,
        s.id,
        s.plan,
        s.overrides,
        key ?? null,
        key === undefined ? null : this.answerJson(view, clock),
        fingerprint,
      ],
      answer: (used) => ({
        granted: true,
        used,
        limit,
        remaining: remainingOf(limit, used),
        period: view,
        ...clock,
      }),
    };
  }

  /** A concurrent call with the same key committed first: its outcome is the answer. */
  private async replay(
    s: CachedSubject,
    id: string,
    key: string,
    fingerprint: string | null,
    nowMs: number,
  ): Promise<ConsumeResult> {
    const res = await this.db.query<{ outcome: string | null; fingerprint: string | null }>(
      `SELECT outcome, fingerprint FROM ${this.db.s}.events WHERE subject_rid = $1 AND idem_key = $2`,
      [s.rid, key],
    );
    const outcome = res.rows[0]?.outcome;
    if (outcome && fingerprintDiffers(res.rows[0]!.fingerprint, fingerprint))
      throw new IdempotencyKeyReusedError(key);
    if (!outcome) {
      throw new BadInputError(
        `key: "${key}" is already used by another event of subject "${id}"`,
        'key',
      );
    }
    return this.replayOf(outcome, s, nowMs);
  }

  clockOf(
    s: Pick<SubjectDbRow, 'time_zone'>,
    period: { endMs: number },
    nowMs: number,
  ): AnswerClock {
    return answerClock(s.time_zone, this.policy.rule.timeZone, period, nowMs);
  }

  /** A stored outcome; one stored before answers carried the zone and seconds left gets today's. */
  replayOf(outcome: string, s: Pick<SubjectDbRow, 'time_zone'>, nowMs: number): ConsumeResult {
    const stored = JSON.parse(outcome) as ConsumeResult;
    const clock =
      stored.timeZone === undefined
        ? this.clockOf(s, { endMs: Date.parse(stored.period.end) }, nowMs)
        : {};
    return { ...stored, ...clock, replayed: true };
  }
}
