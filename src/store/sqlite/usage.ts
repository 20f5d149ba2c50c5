import {
  BadInputError,
  IdempotencyKeyReusedError,
  RefundKeyNotFoundError,
  SubjectNotFoundError,
} from '../../core/errors.js';
import type { Limits } from '../../core/plans.js';
import { periodView, remainingOf, type QuotaPolicy } from '../../core/policy.js';
import type { Period } from '../../core/period.js';
import { resolveNewSubject } from '../../core/subject-rules.js';
import { assembleHistory } from '../../core/history.js';
import { REFUND_KEY_PREFIX } from '../../core/validate.js';
import type {
  Page,
  ConsumeResult,
  HistoryEntry,
  Metadata,
  PeriodView,
  RefundResult,
  ResetSubjectResult,
  StatusResult,
} from '../../core/types.js';
import type { Db } from './connection.js';
import { parseOverrides, type SubjectDbRow } from './rows.js';
import type { SqliteSubjects } from './subjects.js';
import { type Actor, type EventListOptions, type UsageEventView } from '../../core/admin-types.js';
import { fingerprintDiffers } from '../../core/idempotency.js';
import { SYSTEM_ACTOR, idCursor, pageLimit, type EventViewRow } from '../admin-mapping.js';
import {
  atLimitIds,
  eventPage,
  manualResetEvent,
  refundOf,
  statusOf,
  subjectResetAudit,
} from '../sql/usage-rules.js';

/** The columns a consume decides on. */
type ConsumeSubjectRow = Pick<
  SubjectDbRow,
  'rid' | 'plan' | 'overrides' | 'suspended' | 'time_zone' | 'anchor_ms'
>;

interface EventRow {
  id: number;
  kind: 'consume' | 'refund' | 'reset';
  feature: string;
  period_start_ms: number;
  period_end_ms: number;
  delta: number;
  outcome: string | null;
  fingerprint: string | null;
}

/** Consume, refund, status, history and manual reset: everything that moves a counter. */
export class SqliteUsage {
  private readonly guardedUpsert;
  private readonly unlimitedUpsert;
  private readonly usedOf;
  private readonly insertEvent;
  private readonly eventByKey;
  private readonly consumeSubject;
  private readonly insertConsumeEvent;
  private readonly consumeTx;

  constructor(
    private readonly db: Db,
    private readonly policy: QuotaPolicy,
    private readonly subjects: SqliteSubjects,
  ) {
    // The check and the increment are one statement: the row is only written
    // when the new total fits, so concurrent writers can never overshoot.
    this.guardedUpsert = db.prepare(
      `INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
       SELECT @rid, @start, @feature, @end, @key, @amount WHERE @amount <= @limit
       ON CONFLICT (subject_rid, period_start_ms, feature)
       DO UPDATE SET used = counters.used + excluded.used WHERE counters.used + excluded.used <= @limit
       RETURNING used`,
    );
    this.unlimitedUpsert = db.prepare(
      `INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
       VALUES (@rid, @start, @feature, @end, @key, @amount)
       ON CONFLICT (subject_rid, period_start_ms, feature) DO UPDATE SET used = counters.used + excluded.used
       RETURNING used`,
    );
    this.usedOf = db.prepare(
      'SELECT used FROM counters WHERE subject_rid = ? AND period_start_ms = ? AND feature = ?',
    );
    this.insertEvent = db.prepare(
      `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
       VALUES (@rid, @kind, @feature, @start, @end, @at, @amount, @delta, @usedAfter, @limit, @key, @outcome, @meta)`,
    );
    this.eventByKey = db.prepare(
      'SELECT id, kind, feature, period_start_ms, period_end_ms, delta, outcome, fingerprint FROM events WHERE subject_rid = ? AND idem_key = ?',
    );
    // The hot path binds positionally and reads only what a consume decides on.
    this.consumeSubject = db.prepare(
      'SELECT rid, plan, overrides, suspended, time_zone, anchor_ms FROM subjects WHERE id = ?',
    );
    this.insertConsumeEvent = db.prepare(
      `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
       VALUES (?, 'consume', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.consumeTx = db.transaction(this.consumeInTx.bind(this));
  }

  /** The last period's view and the last overrides text: consecutive consumes mostly share both. */
  private lastView: { period: Period; view: PeriodView } | undefined;
  private lastOverrides: { text: string; limits: Limits } | undefined;

  private viewOf(period: Period): PeriodView {
    const hit = this.lastView;
    // A copy: results must not share one mutable object.
    if (hit && hit.period === period) return { ...hit.view };
    const view = periodView(period);
    this.lastView = { period, view };
    return { ...view };
  }

  private overridesOf(text: string): Limits {
    const hit = this.lastOverrides;
    if (hit && hit.text === text) return hit.limits;
    const limits = Object.freeze(parseOverrides(text));
    this.lastOverrides = { text, limits };
    return limits;
  }

  private subjectFor(id: string, nowMs: number): ConsumeSubjectRow {
    const row = this.consumeSubject.get(id) as ConsumeSubjectRow | undefined;
    if (row) return row;
    if (!this.policy.autoCreateSubjects) throw new SubjectNotFoundError(id);
    const created = this.subjects.insertResolved(resolveNewSubject(this.policy, { id }, nowMs));
    this.subjects.recordAudit(
      nowMs,
      { action: 'subject.auto_create', subject: id, before: null, after: { plan: created.plan } },
      SYSTEM_ACTOR,
    );
    this.policy.subjectAutoCreated(id, created.plan);
    return created;
  }

  private used(rid: number, period: Period, feature: string): number {
    return (
      (this.usedOf.get(rid, period.startMs, feature) as { used: number } | undefined)?.used ?? 0
    );
  }

  private consumeInTx(
    id: string,
    feature: string,
    amount: number,
    key: string | undefined,
    meta: string | null,
    nowMs: number,
    fingerprint: string | null,
  ): ConsumeResult {
    const s = this.subjectFor(id, nowMs);
    if (key !== undefined) {
      const prior = this.eventByKey.get(s.rid, key) as EventRow | undefined;
      // The key is taken by a refund record: never replay it as a consume nor hit the unique index.
      if (prior && prior.kind !== 'consume')
        throw new BadInputError(`key: "${key}" is reserved for a refund`, 'key');
      if (prior?.outcome) {
        if (fingerprintDiffers(prior.fingerprint, fingerprint))
          throw new IdempotencyKeyReusedError(key);
        return { ...(JSON.parse(prior.outcome) as ConsumeResult), replayed: true };
      }
    }
    const period = this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, nowMs);
    const limit = this.policy.catalog.limitFor(s.plan, this.overridesOf(s.overrides), feature);
    const params = {
      rid: s.rid,
      start: period.startMs,
      end: period.endMs,
      key: period.key,
      feature,
      amount,
      limit,
    };
    let used: number;
    let granted = false;
    if (s.suspended === 1) {
      used = this.used(s.rid, period, feature);
    } else {
      const row = (
        limit === null ? this.unlimitedUpsert.get(params) : this.guardedUpsert.get(params)
      ) as { used: number } | undefined;
      granted = row !== undefined;
      used = row ? row.used : this.used(s.rid, period, feature);
    }
    const result: ConsumeResult = {
      granted,
      used,
      limit,
      remaining: remainingOf(limit, used),
      period: this.viewOf(period),
      ...(granted ? {} : { reason: s.suspended === 1 ? 'suspended' : 'quota_exceeded' }),
    };
    this.insertConsumeEvent.run(
      s.rid,
      feature,
      period.startMs,
      period.endMs,
      nowMs,
      amount,
      granted ? amount : 0,
      used,
      limit,
      key ?? null,
      key === undefined ? null : JSON.stringify(result),
      meta,
      key === undefined ? null : fingerprint,
    );
    return result;
  }

  consume(
    id: string,
    feature: string,
    amount: number,
    key: string | undefined,
    meta: Metadata | undefined,
    nowMs: number,
    fingerprint?: string,
  ): ConsumeResult {
    return this.consumeTx.immediate(
      id,
      feature,
      amount,
      key,
      meta === undefined ? null : JSON.stringify(meta),
      nowMs,
      fingerprint ?? null,
    );
  }

  refund(id: string, key: string, nowMs: number): RefundResult {
    return this.db
      .transaction((): RefundResult => {
        const s = this.subjects.require(id);
        const original = this.eventByKey.get(s.rid, key) as EventRow | undefined;
        // Only a consume can be refunded: "refunding" a refund record would add units back unguarded.
        if (!original || original.kind !== 'consume') throw new RefundKeyNotFoundError(id, key);
        const period = {
          startMs: original.period_start_ms,
          endMs: original.period_end_ms,
          key: '',
        };
        const view = { ...periodView(period), key: this.keyOf(s, original.period_start_ms) };
        const already = this.eventByKey.get(s.rid, `${REFUND_KEY_PREFIX}${key}`) as
          EventRow | undefined;
        const current = this.used(s.rid, period, original.feature);
        const r = refundOf(original, key, current, Boolean(already), view, nowMs);
        if (r.write === null) return r.result;
        this.db
          .prepare(
            'UPDATE counters SET used = ? WHERE subject_rid = ? AND period_start_ms = ? AND feature = ?',
          )
          .run(r.write.used, s.rid, original.period_start_ms, original.feature);
        this.insertEvent.run({
          rid: s.rid,
          ...r.write.event,
          limit: null,
          outcome: null,
        });
        return r.result;
      })
      .immediate();
  }

  private keyOf(s: SubjectDbRow, startMs: number): string {
    return this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, startMs).key;
  }

  status(id: string, nowMs: number): StatusResult {
    const s = this.subjects.require(id);
    const period = this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, nowMs);
    const rows = this.db
      .prepare('SELECT feature, used FROM counters WHERE subject_rid = ? AND period_start_ms = ?')
      .all(s.rid, period.startMs) as Array<{ feature: string; used: number }>;
    return statusOf(this.policy, { ...s, suspended: s.suspended === 1 }, period, rows);
  }

  history(id: string): HistoryEntry[] {
    const s = this.subjects.require(id);
    const closed = this.db
      .prepare(
        'SELECT start_ms, end_ms, period_key, plan, limits FROM closed_periods WHERE subject_rid = ?',
      )
      .all(s.rid) as Array<{
      start_ms: number;
      end_ms: number;
      period_key: string;
      plan: string;
      limits: string;
    }>;
    const counters = this.db
      .prepare(
        'SELECT period_start_ms, period_end_ms, period_key, feature, used FROM counters WHERE subject_rid = ?',
      )
      .all(s.rid) as Array<{
      period_start_ms: number;
      period_end_ms: number;
      period_key: string;
      feature: string;
      used: number;
    }>;
    return assembleHistory(
      this.policy,
      { plan: s.plan, overrides: parseOverrides(s.overrides) },
      closed,
      counters,
    );
  }

  resetSubject(
    id: string,
    nowMs: number,
    dryRun: boolean,
    reason: string | undefined,
    operation?: string,
    actor?: Actor,
  ): ResetSubjectResult {
    const run = (): ResetSubjectResult => {
      const s = this.subjects.require(id);
      const period = this.policy.periods.at(
        { timeZone: s.time_zone, anchorMs: s.anchor_ms },
        nowMs,
      );
      if (operation) {
        const done = this.db
          .prepare(
            `SELECT 1 FROM audit WHERE subject = ? AND action = 'subject.reset' AND json_extract(detail, '$.operation') = ? AND json_extract(detail, '$.period') = ?`,
          )
          .get(id, operation, period.key);
        if (done) return { subject: id, period: periodView(period), cleared: {}, skipped: true };
      }
      const rows = this.db
        .prepare(
          'SELECT feature, used FROM counters WHERE subject_rid = ? AND period_start_ms = ? AND used > 0',
        )
        .all(s.rid, period.startMs) as Array<{ feature: string; used: number }>;
      const cleared: Record<string, number> = {};
      for (const r of rows) {
        cleared[r.feature] = r.used;
        if (dryRun) continue;
        this.db
          .prepare(
            'UPDATE counters SET used = 0 WHERE subject_rid = ? AND period_start_ms = ? AND feature = ?',
          )
          .run(s.rid, period.startMs, r.feature);
        this.insertEvent.run({
          rid: s.rid,
          ...manualResetEvent(r.feature, r.used, period, nowMs, reason),
          limit: null,
          key: null,
          outcome: null,
        });
      }
      if (!dryRun) {
        const audit = subjectResetAudit(id, period.key, cleared, reason, operation, actor);
        this.subjects.recordAudit(nowMs, audit.draft, audit.actor);
      }
      return { subject: id, period: periodView(period), cleared };
    };
    // A dry run still reads inside a transaction so it sees one consistent snapshot.
    return dryRun ? this.db.transaction(run).deferred() : this.db.transaction(run).immediate();
  }

  atLimit(nowMs: number, max: number): string[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.plan, s.overrides, c.feature, c.used FROM counters c JOIN subjects s ON s.rid = c.subject_rid
         WHERE c.period_start_ms <= ? AND c.period_end_ms > ? AND c.used > 0 ORDER BY s.id`,
      )
      .all(nowMs, nowMs) as Array<{
      id: string;
      plan: string;
      overrides: string;
      feature: string;
      used: number;
    }>;
    return atLimitIds(this.policy, rows, max);
  }

  /** Newest first: a walk down the (subject_rid, id) index from the cursor. */
  events(id: string, opts: EventListOptions): Page<UsageEventView> {
    const s = this.subjects.require(id);
    const limit = pageLimit(opts.limit);
    const before = idCursor(opts.after);
    const rows = this.db
      .prepare(
        `SELECT id, at_ms, kind, feature, amount, delta, idem_key, meta, period_start_ms FROM events
         WHERE subject_rid = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      )
      .all(s.rid, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as EventViewRow[];
    return eventPage(rows, limit, s.id, (start) => this.keyOf(s, start));
  }
}
