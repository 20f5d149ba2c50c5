import {
  BadInputError,
  IdempotencyKeyReusedError,
  SubjectNotFoundError,
} from '../../core/errors.js';
import { fingerprintDiffers } from '../../core/idempotency.js';
import { settleItem } from '../../core/item-outcome.js';
import type { Period } from '../../core/period.js';
import { fits, periodView, remainingOf, type QuotaPolicy } from '../../core/policy.js';
import { resolveNewSubject } from '../../core/subject-rules.js';
import type { ConsumeItem, ConsumeResult, ItemOutcome } from '../../core/types.js';
import type { AnswerClock } from '../../core/answer-clock.js';
import { isUniqueViolation, type Client, type PgDb } from './pool.js';
import { parseOverrides, type SubjectDbRow } from './rows.js';
import type { PgSubjects } from './subjects.js';

type BatchSubject = Pick<
  SubjectDbRow,
  'rid' | 'id' | 'plan' | 'overrides' | 'suspended' | 'time_zone' | 'anchor_ms'
>;

/** What PgConsume lends the batch: the same answer fields and replays as a single consume. */
export interface AnswerHelpers {
  clockOf(
    s: Pick<SubjectDbRow, 'time_zone'>,
    period: { endMs: number },
    nowMs: number,
  ): AnswerClock;
  replayOf(outcome: string, s: Pick<SubjectDbRow, 'time_zone'>, nowMs: number): ConsumeResult;
}

/** An item whose subject is known, with what a consume decides on. */
interface Placed {
  readonly item: ConsumeItem;
  readonly s: BatchSubject;
  readonly period: Period;
  readonly counter: string;
  readonly fp: string | null;
}

interface Prior {
  readonly outcome: string | null;
  readonly fingerprint: string | null;
}

/** An event row to insert, one per decided item, in item order. */
interface EventValues {
  rid: number;
  feature: string;
  start: number;
  end: number;
  amount: number;
  delta: number;
  usedAfter: number;
  limit: number | null;
  key: string | null;
  outcome: string | null;
  meta: string | null;
  fingerprint: string | null;
}

/** One counter the batch touches; `locked` ones may be granted on and are written back when changed. */
interface CounterState {
  readonly rid: number;
  readonly startMs: number;
  readonly feature: string;
  used: number;
  readonly locked: boolean;
  changed: boolean;
}

type Counters = Map<string, CounterState>;

const counterOf = (rid: number, startMs: number, feature: string) => `${rid}|${startMs}|${feature}`;
const keyOf = (rid: number, key: string) => `${rid}|${key}`;

/**
 * Many consumes in ONE transaction: a handful of round trips and one commit
 * for the whole batch instead of one commit per item. The counters the batch
 * may grant on are locked (created at 0 if new) in a fixed order, every item
 * is then decided in order in memory exactly as the single-consume statement
 * decides it, and the counters and the event rows are written in one
 * statement. A concurrent consume with the same key that commits first makes
 * the insert hit the unique index; the whole transaction then runs again and
 * replays it.
 */
export class PgConsumeMany {
  constructor(
    private readonly db: PgDb,
    private readonly policy: QuotaPolicy,
    private readonly subjects: PgSubjects,
    private readonly answers: AnswerHelpers,
  ) {}

  private get s() {
    return this.db.s;
  }

  async consumeMany(
    items: readonly ConsumeItem[],
    nowMs: number,
  ): Promise<ItemOutcome<ConsumeResult>[]> {
    let created: BatchSubject[] = [];
    const out = await this.db.tx(
      async (c) => {
        created = [];
        const subjects = await this.loadSubjects(c, items, nowMs, created);
        return this.decideAndWrite(c, items, subjects, nowMs);
      },
      {
        // Resent after a broken connection only when every item carries a key (it then replays).
        idempotent: items.every((i) => i.key !== undefined),
        retryIf: (e) => isUniqueViolation(e, 'events_idem'),
      },
    );
    for (const s of created) this.policy.subjectAutoCreated(s.id, s.plan);
    return out;
  }

  /** Every subject of the batch by id; unknown ones are created when autoCreateSubjects is on. */
  private async loadSubjects(
    c: Client,
    items: readonly ConsumeItem[],
    nowMs: number,
    created: BatchSubject[],
  ): Promise<Map<string, BatchSubject>> {
    const ids = [...new Set(items.map((i) => i.subject))];
    const rows = await c.query<BatchSubject>(
      `SELECT rid, id, plan, overrides, suspended, time_zone, anchor_ms FROM ${this.s}.subjects WHERE id = ANY($1::text[])`,
      [ids],
    );
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    if (!this.policy.autoCreateSubjects) return byId;
    for (const id of ids.filter((x) => !byId.has(x)).sort()) {
      const resolved = resolveNewSubject(this.policy, { id }, nowMs);
      // Two first consumes racing: one inserts, the other reads the winner's row.
      const inserted = await this.subjects.insertResolved(c, resolved, 'subject.auto_create');
      if (inserted) created.push(inserted);
      byId.set(id, inserted ?? (await this.subjects.require(c, id)));
    }
    return byId;
  }

  private async priors(c: Client, placed: readonly Placed[]): Promise<Map<string, Prior>> {
    const keyed = placed.filter((p) => p.item.key !== undefined);
    if (keyed.length === 0) return new Map();
    const res = await c.query<Prior & { subject_rid: number; idem_key: string }>(
      `SELECT subject_rid, idem_key, outcome, fingerprint FROM ${this.s}.events
       WHERE (subject_rid, idem_key) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`,
      [keyed.map((p) => p.s.rid), keyed.map((p) => p.item.key!)],
    );
    return new Map(res.rows.map((r) => [keyOf(r.subject_rid, r.idem_key), r]));
  }

  private place(item: ConsumeItem, subjects: Map<string, BatchSubject>, nowMs: number): Placed {
    const s = subjects.get(item.subject);
    if (!s) throw new SubjectNotFoundError(item.subject);
    const period = this.policy.periods.at({ timeZone: s.time_zone, anchorMs: s.anchor_ms }, nowMs);
    return {
      item,
      s,
      period,
      counter: counterOf(s.rid, period.startMs, item.feature),
      // Only a keyed consume keeps its fingerprint: it is what a retry is compared with.
      fp: item.key === undefined ? null : (item.fingerprint ?? null),
    };
  }

  private limitOf(p: Placed): number | null {
    return this.policy.catalog.limitFor(p.s.plan, parseOverrides(p.s.overrides), p.item.feature);
  }

  private async decideAndWrite(
    c: Client,
    items: readonly ConsumeItem[],
    subjects: Map<string, BatchSubject>,
    nowMs: number,
  ): Promise<ItemOutcome<ConsumeResult>[]> {
    const placed = items.map((item) => settleItem(() => this.place(item, subjects, nowMs)));
    const ok = placed.flatMap((p) => (p.ok ? [p.result] : []));
    const priors = await this.priors(c, ok);
    const used = await this.lockCounters(c, this.deciding(ok, priors));
    const events: EventValues[] = [];
    const seen = new Map<string, { result: ConsumeResult; fp: string | null }>();
    const outcomes = placed.map((p) =>
      p.ok ? settleItem(() => this.decide(p.result, priors, seen, used, events, nowMs)) : p,
    );
    await this.write(c, used, events, nowMs);
    return outcomes;
  }

  /** The items that decide (not replays), and of their counters those a grant may write. */
  private deciding(placed: readonly Placed[], priors: Map<string, Prior>) {
    const keys = new Set<string>();
    const lock = new Map<string, Placed>();
    const read = new Map<string, Placed>();
    for (const p of placed) {
      if (p.item.key !== undefined) {
        const k = keyOf(p.s.rid, p.item.key);
        if (priors.has(k) || keys.has(k)) continue;
        keys.add(k);
      }
      const limit = settleItem(() => this.limitOf(p));
      // An item whose limit cannot be had (an unknown plan) is refused by decide.
      if (!limit.ok) continue;
      // A counter is locked (and created) only if an item on it can be granted, so no empty row is left.
      if (!p.s.suspended && (limit.result === null || p.item.amount <= limit.result))
        lock.set(p.counter, p);
      else read.set(p.counter, p);
    }
    for (const k of lock.keys()) read.delete(k);
    return { lock: [...lock.values()], read: [...read.values()] };
  }

  /**
   * Locks the counters a grant may write, in one fixed order so two batches
   * never wait on each other in a cycle, creating missing ones at 0 (every
   * one of them then gets a grant); reads the others. Returns used by counter.
   */
  private async lockCounters(
    c: Client,
    { lock, read }: { lock: Placed[]; read: Placed[] },
  ): Promise<Counters> {
    const all = [...lock, ...read];
    const used: Counters = new Map();
    if (all.length === 0) return used;
    lock.sort((a, b) => (a.counter < b.counter ? -1 : a.counter > b.counter ? 1 : 0));
    const res = await c.query<{ rid: number; start_ms: number; feature: string; used: number }>(
      `WITH req AS (
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::boolean[])
           WITH ORDINALITY AS r(rid, start_ms, end_ms, period_key, feature, lock, ord)
       ), locked AS (
         INSERT INTO ${this.s}.counters AS c (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
         SELECT rid, start_ms, feature, end_ms, period_key, 0 FROM req WHERE lock ORDER BY ord
         ON CONFLICT (subject_rid, period_start_ms, feature) DO UPDATE SET used = c.used
         RETURNING c.subject_rid AS rid, c.period_start_ms AS start_ms, c.feature, c.used
       )
       SELECT rid, start_ms, feature, used FROM locked
       UNION ALL
       SELECT c.subject_rid, c.period_start_ms, c.feature, c.used FROM ${this.s}.counters c
       JOIN req r ON NOT r.lock AND c.subject_rid = r.rid AND c.period_start_ms = r.start_ms AND c.feature = r.feature`,
      [
        all.map((p) => p.s.rid),
        all.map((p) => p.period.startMs),
        all.map((p) => p.period.endMs),
        all.map((p) => p.period.key),
        all.map((p) => p.item.feature),
        all.map((_, i) => i < lock.length),
      ],
    );
    const state = (p: Placed, locked: boolean): CounterState => ({
      rid: p.s.rid,
      startMs: p.period.startMs,
      feature: p.item.feature,
      used: 0,
      locked,
      changed: false,
    });
    for (const p of lock) used.set(p.counter, state(p, true));
    for (const p of read) used.set(p.counter, state(p, false));
    for (const r of res.rows) used.get(counterOf(r.rid, r.start_ms, r.feature))!.used = r.used;
    return used;
  }

  /** One item, as the single-consume statement decides it; its event goes to `events`. */
  private decide(
    p: Placed,
    priors: Map<string, Prior>,
    seen: Map<string, { result: ConsumeResult; fp: string | null }>,
    used: Counters,
    events: EventValues[],
    nowMs: number,
  ): ConsumeResult {
    const { item, s } = p;
    const k = item.key === undefined ? null : keyOf(s.rid, item.key);
    if (k !== null) {
      const prior = priors.get(k);
      if (prior) {
        if (prior.outcome === null)
          throw new BadInputError(
            `key: "${item.key}" is already used by another event of subject "${s.id}"`,
            'key',
          );
        if (fingerprintDiffers(prior.fingerprint, p.fp))
          throw new IdempotencyKeyReusedError(item.key!);
        return this.answers.replayOf(prior.outcome, s, nowMs);
      }
      const earlier = seen.get(k);
      if (earlier) {
        if (fingerprintDiffers(earlier.fp, p.fp)) throw new IdempotencyKeyReusedError(item.key!);
        return { ...earlier.result, replayed: true };
      }
    }
    const limit = this.limitOf(p);
    const counter = used.get(p.counter)!;
    const granted = !s.suspended && counter.locked && fits(limit, counter.used, item.amount);
    if (granted) {
      counter.used += item.amount;
      counter.changed = true;
    }
    const result: ConsumeResult = {
      granted,
      used: counter.used,
      limit,
      remaining: remainingOf(limit, counter.used),
      period: periodView(p.period),
      ...this.answers.clockOf(s, p.period, nowMs),
      ...(granted ? {} : { reason: s.suspended ? 'suspended' : 'quota_exceeded' }),
    };
    if (k !== null) seen.set(k, { result, fp: p.fp });
    events.push({
      rid: s.rid,
      feature: item.feature,
      start: p.period.startMs,
      end: p.period.endMs,
      amount: item.amount,
      delta: granted ? item.amount : 0,
      usedAfter: counter.used,
      limit,
      key: item.key ?? null,
      outcome: k === null ? null : JSON.stringify(result),
      meta: item.meta === undefined ? null : JSON.stringify(item.meta),
      fingerprint: p.fp,
    });
    return result;
  }

  /** The changed counters and every event row, in one statement; events in item order. */
  private async write(
    c: Client,
    used: Counters,
    events: EventValues[],
    nowMs: number,
  ): Promise<void> {
    if (events.length === 0) return;
    const changed = [...used.values()].filter((v) => v.changed);
    const col = <K extends keyof EventValues>(key: K) => events.map((e) => e[key]);
    await c.query(
      `WITH cu AS (
         UPDATE ${this.s}.counters c SET used = u.used
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) AS u(rid, start_ms, feature, used)
         WHERE c.subject_rid = u.rid AND c.period_start_ms = u.start_ms AND c.feature = u.feature
         RETURNING 1
       )
       INSERT INTO ${this.s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
       SELECT e.rid, 'consume', e.feature, e.start_ms, e.end_ms, $5::bigint, e.amount, e.delta, e.used_after, e.lim, e.idem_key, e.outcome, e.meta, e.fingerprint
       FROM unnest($6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
                   $14::text[], $15::text[], $16::text[], $17::text[])
         WITH ORDINALITY AS e(rid, feature, start_ms, end_ms, amount, delta, used_after, lim, idem_key, outcome, meta, fingerprint, ord)
       ORDER BY e.ord`,
      [
        changed.map((v) => v.rid),
        changed.map((v) => v.startMs),
        changed.map((v) => v.feature),
        changed.map((v) => v.used),
        nowMs,
        col('rid'),
        col('feature'),
        col('start'),
        col('end'),
        col('amount'),
        col('delta'),
        col('usedAfter'),
        col('limit'),
        col('key'),
        col('outcome'),
        col('meta'),
        col('fingerprint'),
      ],
    );
  }
}
