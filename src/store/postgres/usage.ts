import { RefundKeyNotFoundError } from '../../core/errors.js';
import { assembleHistory } from '../../core/history.js';
import { periodView, type QuotaPolicy } from '../../core/policy.js';
import type {
  ConsumeItem,
  ConsumeOptions,
  ConsumeResult,
  Page,
  HistoryEntry,
  RefundResult,
  ResetSubjectResult,
  StatusResult,
} from '../../core/types.js';
import type { ResetOptions, StoreUsage } from '../quota-store.js';
import type { PgConsume } from './consume.js';
import { isUniqueViolation, type Client, type PgDb } from './pool.js';
import { parseOverrides, type SubjectDbRow } from './rows.js';
import type { PgSubjects } from './subjects.js';
import { type Actor, type EventListOptions, type UsageEventView } from '../../core/admin-types.js';
import { answerClock } from '../../core/answer-clock.js';
import { idCursor, pageLimit, refundAudit, type EventViewRow } from '../admin-mapping.js';
import * as usageRules from '../sql/usage-rules.js';

interface EventRow {
  id: number;
  feature: string;
  period_start_ms: number;
  period_end_ms: number;
  delta: number;
}

/** The usage role: consume (its statements have their own file), refund, status, history and manual reset. */
export class PgUsage implements StoreUsage {
  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
    private readonly subjects: PgSubjects,
    private readonly consumer: PgConsume,
  ) {}

  consume(
    id: string,
    feature: string,
    amount: number,
    opts: ConsumeOptions & { now: number },
  ): Promise<ConsumeResult> {
    return this.consumer.consume(
      id,
      feature,
      amount,
      opts.key,
      opts.meta,
      opts.now,
      opts.fingerprint ?? null,
    );
  }

  consumeMany(items: readonly ConsumeItem[], nowMs: number) {
    return this.consumer.consumeMany(items, nowMs);
  }

  private get s() {
    return this.db.s;
  }

  private keyOf(s: SubjectDbRow, startMs: number): string {
    return this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, startMs).key;
  }

  private async insertEvent(c: Client, e: Record<string, unknown>): Promise<void> {
    await c.query(
      `INSERT INTO ${this.s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        e.rid,
        e.kind,
        e.feature,
        e.start,
        e.end,
        e.at,
        e.amount,
        e.delta,
        e.usedAfter,
        e.limit ?? null,
        e.key ?? null,
        e.outcome ?? null,
        e.meta ?? null,
      ],
    );
  }

  async refund(id: string, key: string, nowMs: number, actor?: Actor): Promise<RefundResult> {
    return this.db.tx((c) => this.refundInTx(c, id, key, nowMs, actor), {
      idempotent: false,
      // Two refunds of one key racing: the loser rolls back and, retried, reports alreadyRefunded.
      retryIf: (e) => isUniqueViolation(e, 'events_idem'),
    });
  }

  private async refundInTx(
    c: Client,
    id: string,
    key: string,
    nowMs: number,
    actor?: Actor,
  ): Promise<RefundResult> {
    const s = await this.subjects.require(c, id);
    // Locking the original consume serialises refunds of the same key.
    const original = (
      await c.query<EventRow>(
        `SELECT id, feature, period_start_ms, period_end_ms, delta FROM ${this.s}.events
         WHERE subject_rid = $1 AND idem_key = $2 FOR UPDATE`,
        [s.rid, key],
      )
    ).rows[0];
    if (!original) throw new RefundKeyNotFoundError(id, key);
    const period = { startMs: original.period_start_ms, endMs: original.period_end_ms, key: '' };
    const view = { ...periodView(period), key: this.keyOf(s, original.period_start_ms) };
    const clock = answerClock(s.time_zone, this.policy.rule.timeZone, period, nowMs);
    const already = (
      await c.query(`SELECT 1 FROM ${this.s}.events WHERE subject_rid = $1 AND idem_key = $2`, [
        s.rid,
        `refund:${key}`,
      ])
    ).rows[0];
    const counter = (
      await c.query<{ used: number }>(
        `SELECT used FROM ${this.s}.counters WHERE subject_rid = $1 AND period_start_ms = $2 AND feature = $3 FOR UPDATE`,
        [s.rid, original.period_start_ms, original.feature],
      )
    ).rows[0];
    const r = usageRules.refundOf(original, key, counter?.used ?? 0, Boolean(already), {
      period: view,
      clock,
      nowMs,
    });
    if (r.write === null) return r.result;
    await c.query(
      `UPDATE ${this.s}.counters SET used = $1 WHERE subject_rid = $2 AND period_start_ms = $3 AND feature = $4`,
      [r.write.used, s.rid, original.period_start_ms, original.feature],
    );
    await this.insertEvent(c, { rid: s.rid, ...r.write.event });
    if (actor) await this.subjects.recordAudit(c, nowMs, refundAudit(id, r.write.audit), actor);
    return r.result;
  }

  async status(id: string, nowMs: number): Promise<StatusResult> {
    const s = await this.subjects.require(null, id);
    const period = this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, nowMs);
    const rows = (
      await this.db.query<{ feature: string; used: number }>(
        `SELECT feature, used FROM ${this.s}.counters WHERE subject_rid = $1 AND period_start_ms = $2`,
        [s.rid, period.startMs],
      )
    ).rows;
    return usageRules.statusOf(this.policy, s, period, rows, nowMs);
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return this.db.tx(
      async (c) => {
        const s = await this.subjects.require(c, id);
        const closed = (
          await c.query<{
            start_ms: number;
            end_ms: number;
            period_key: string;
            plan: string;
            limits: string;
          }>(
            `SELECT start_ms, end_ms, period_key, plan, limits FROM ${this.s}.closed_periods WHERE subject_rid = $1`,
            [s.rid],
          )
        ).rows;
        const counters = (
          await c.query<{
            period_start_ms: number;
            period_end_ms: number;
            period_key: string;
            feature: string;
            used: number;
          }>(
            `SELECT period_start_ms, period_end_ms, period_key, feature, used FROM ${this.s}.counters WHERE subject_rid = $1`,
            [s.rid],
          )
        ).rows;
        return assembleHistory(
          this.policy,
          { plan: s.plan, overrides: parseOverrides(s.overrides) },
          closed,
          counters,
        );
      },
      { idempotent: true, mode: 'snapshot' },
    );
  }

  async resetSubject(
    id: string,
    nowMs: number,
    { dryRun = false, reason, operation, actor }: ResetOptions = {},
  ): Promise<ResetSubjectResult> {
    const run = async (c: Client): Promise<ResetSubjectResult> => {
      // The subject lock serialises two resets of one subject, so an operation skips it exactly once.
      const s = await this.subjects.require(c, id, !dryRun);
      const period = this.policy.periods.at(
        { timeZone: s.time_zone, anchorMs: s.anchor_ms },
        nowMs,
      );
      if (operation) {
        const done = await c.query(
          `SELECT 1 FROM ${this.s}.audit WHERE subject = $1 AND action = 'subject.reset'
             AND detail::jsonb ->> 'operation' = $2 AND detail::jsonb ->> 'period' = $3 LIMIT 1`,
          [id, operation, period.key],
        );
        if (done.rows[0])
          return { subject: id, period: periodView(period), cleared: {}, skipped: true };
      }
      // The row locks make a concurrent consume wait, then count on top of zero: no lost update.
      const rows = (
        await c.query<{ feature: string; used: number }>(
          `SELECT feature, used FROM ${this.s}.counters WHERE subject_rid = $1 AND period_start_ms = $2 AND used > 0
           ORDER BY feature${dryRun ? '' : ' FOR UPDATE'}`,
          [s.rid, period.startMs],
        )
      ).rows;
      const cleared: Record<string, number> = {};
      for (const r of rows) {
        cleared[r.feature] = r.used;
        if (dryRun) continue;
        await c.query(
          `UPDATE ${this.s}.counters SET used = 0 WHERE subject_rid = $1 AND period_start_ms = $2 AND feature = $3`,
          [s.rid, period.startMs, r.feature],
        );
        await this.insertEvent(c, {
          rid: s.rid,
          ...usageRules.manualResetEvent(r.feature, r.used, period, nowMs, reason),
        });
      }
      if (!dryRun) {
        const audit = usageRules.resetAuditOf(id, period.key, cleared, reason, operation, actor);
        await this.subjects.recordAudit(c, nowMs, audit.draft, audit.actor);
      }
      return { subject: id, period: periodView(period), cleared };
    };
    // A dry run still reads inside a transaction so it sees one consistent snapshot.
    return dryRun
      ? this.db.tx(run, { idempotent: true, mode: 'snapshot' })
      : this.db.tx(run, { idempotent: false });
  }

  /** Newest first: a walk down the (subject_rid, id) index from the cursor. */
  async subjectEvents(id: string, opts: EventListOptions = {}): Promise<Page<UsageEventView>> {
    const s = await this.subjects.require(null, id);
    const limit = pageLimit(opts.limit);
    const before = idCursor(opts.after);
    const rows = (
      await this.db.query<EventViewRow>(
        `SELECT id, at_ms, kind, feature, amount, delta, idem_key, meta, period_start_ms FROM ${this.s}.events
         WHERE subject_rid = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
        [s.rid, before ?? Number.MAX_SAFE_INTEGER, limit + 1],
        { idempotent: true },
      )
    ).rows;
    return usageRules.eventPage(rows, limit, s.id, (start) => this.keyOf(s, start));
  }
}
