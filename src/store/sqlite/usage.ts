import {
  BadInputError,
  IdempotencyKeyReusedError,
  RefundKeyNotFoundError,
  SubjectNotFoundError,
} from '../../core/errors.js';
import type { Limits } from '../../core/plans.js';
import { periodView, remainingOf, type QuotaPolicy } from '../../core/policy.js';
import type { Period } from '../../core/period.js';
import { answerClock } from '../../core/answer-clock.js';
import { settleItem } from '../../core/item-outcome.js';
import { resolveNewSubject } from '../../core/subject-rules.js';
import { assembleHistory } from '../../core/history.js';
import { REFUND_KEY_PREFIX } from '../../core/validate.js';
import type {
  Page,
  ConsumeItem,
  ConsumeOptions,
  ConsumeResult,
  ItemOutcome,
  HistoryEntry,
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
import {
  SYSTEM_ACTOR,
  idCursor,
  pageLimit,
  refundAudit,
  type EventViewRow,
} from '../admin-mapping.js';
import * as usageRules from '../sql/usage-rules.js';
import type { ResetOptions, StoreUsage } from '../quota-store.js';
import type { Synchronous } from '../shared/compose-store.js';

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

/** The usage role: consume, refund, status, history and manual reset, everything that moves a counter. */
export class SqliteUsage implements Synchronous<StoreUsage> {
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
    /** Subjects already read in this transaction (a batch): nothing else can change them meanwhile. */
    seen?: Map<string, ConsumeSubjectRow>,
  ): ConsumeResult {
    let s = seen?.get(id);
    if (!s) {
      s = this.subjectFor(id, nowMs);
      seen?.set(id, s);
    }
    if (key !== undefined) {
      const prior = this.eventByKey.get(s.rid, key) as EventRow | undefined;
      // The key is taken by a refund record: never replay it as a consume nor hit the unique index.
      if (prior && prior.kind !== 'consume')
        throw new BadInputError(`key: "${key}" is reserved for a refund`, 'key');
      if (prior?.outcome) {
        if (fingerprintDiffers(prior.fingerprint, fingerprint))
          throw new IdempotencyKeyReusedError(key);
        return this.replayOf(prior.outcome, s, nowMs);
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
      ...answerClock(s.time_zone, this.policy.rule.timeZone, period, nowMs),
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

  /** A stored outcome; one stored before answers carried the zone and seconds left gets today's. */
  private replayOf(outcome: string, s: ConsumeSubjectRow, nowMs: number): ConsumeResult {
    const stored = JSON.parse(outcome) as ConsumeResult;
    const clock =
      stored.timeZone === undefined
        ? answerClock(
            s.time_zone,
            this.policy.rule.timeZone,
            { endMs: Date.parse(stored.period.end) },
            nowMs,
          )
        : {};
    return { ...stored, ...clock, replayed: true };
  }

  /**
   * Many consumes in ONE transaction (one commit), each decided as a single
   * consume would be, in order: items on one subject see the earlier ones'
   * effect. An item that a single consume would refuse with an error (an
   * unknown subject, a reused key) gets that error as its outcome; nothing it
   * did is kept, and the others go on. Any other error fails the whole call.
   */
  consumeMany(items: readonly ConsumeItem[], nowMs: number): ItemOutcome<ConsumeResult>[] {
    const seen = new Map<string, ConsumeSubjectRow>();
    return this.db
      .transaction(() =>
        items.map((item) =>
          // No savepoint per item (they cost more than the consumes): every error an item can
          // get is thrown before it writes anything (a subject created on first use has no
          // key taken yet), so a failed item leaves nothing behind.
          settleItem(() =>
            this.consumeInTx(
              item.subject,
              item.feature,
              item.amount,
              item.key,
              item.meta === undefined ? null : JSON.stringify(item.meta),
              nowMs,
              item.fingerprint ?? null,
              seen,
            ),
          ),
        ),
      )
      .immediate();
  }

  consume(
    id: string,
    feature: string,
    amount: number,
    opts: ConsumeOptions & { now: number },
  ): ConsumeResult {
    return this.consumeTx.immediate(
      id,
      feature,
      amount,
      opts.key,
      opts.meta === undefined ? null : JSON.stringify(opts.meta),
      opts.now,
      opts.fingerprint ?? null,
    );
  }

  refund(id: string, key: string, nowMs: number, actor?: Actor): RefundResult {
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
        const clock = answerClock(s.time_zone, this.policy.rule.timeZone, period, nowMs);
        const already = this.eventByKey.get(s.rid, `${REFUND_KEY_PREFIX}${key}`) as
          EventRow | undefined;
        const current = this.used(s.rid, period, original.feature);
        const r = usageRules.refundOf(original, key, current, Boolean(already), {
          period: view,
          clock,
          nowMs,
        });
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
        if (actor) this.subjects.recordAudit(nowMs, refundAudit(id, r.write.audit), actor);
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
    return usageRules.statusOf(
      this.policy,
      { ...s, suspended: s.suspended === 1 },
      period,
      rows,
      nowMs,
    );
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
    { dryRun = false, reason, operation, actor }: ResetOptions = {},
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
          ...usageRules.manualResetEvent(r.feature, r.used, period, nowMs, reason),
          limit: null,
          key: null,
          outcome: null,
        });
      }
      if (!dryRun) {
        const audit = usageRules.resetAuditOf(id, period.key, cleared, reason, operation, actor);
        this.subjects.recordAudit(nowMs, audit.draft, audit.actor);
      }
      return { subject: id, period: periodView(period), cleared };
    };
    // A dry run still reads inside a transaction so it sees one consistent snapshot.
    return dryRun ? this.db.transaction(run).deferred() : this.db.transaction(run).immediate();
  }

  /** Newest first: a walk down the (subject_rid, id) index from the cursor. */
  subjectEvents(id: string, opts: EventListOptions = {}): Page<UsageEventView> {
    const s = this.subjects.require(id);
    const limit = pageLimit(opts.limit);
    const before = idCursor(opts.after);
    const rows = this.db
      .prepare(
        `SELECT id, at_ms, kind, feature, amount, delta, idem_key, meta, period_start_ms FROM events
         WHERE subject_rid = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      )
      .all(s.rid, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as EventViewRow[];
    return usageRules.eventPage(rows, limit, s.id, (start) => this.keyOf(s, start));
  }
}
