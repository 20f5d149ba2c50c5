import { periodFieldsSql } from './outcome-sql.js';
import type { PgDb } from './pool.js';
import { isUniqueViolation } from './pool.js';

/**
 * The values of one grant, in the order of the single-grant statement
 * (grantSql): rid, start, end, period key, feature, amount, limit, at, meta,
 * subject id, plan, overrides, idempotency key, answer JSON (outcome-sql.ts), request fingerprint.
 */
export type GrantValues = [
  rid: number,
  start: number,
  end: number,
  periodKey: string,
  feature: string,
  amount: number,
  limit: number | null,
  at: number,
  meta: string | null,
  id: string,
  plan: string,
  overrides: string,
  key: string | null,
  view: string | null,
  fingerprint: string | null,
];

/**
 * Several grants in ONE statement, each exactly as guarded as a single one.
 * Requests for the same counter row form a group (a hot subject sends many),
 * and a group is granted whole or not at all: its row gets the group's total
 * in one update, guarded so that every request in it still fits its own
 * limit at its place in the queue (`c.used <= lim - units up to and
 * including it`, for each request, folded into the minimum `slack`).
 * PostgreSQL re-evaluates that guard on the latest version of a row another
 * writer changed, so concurrent writers can never overshoot. (One UPDATE …
 * FROM updates a row once however many source rows match it, hence the
 * grouping rather than one update per request.) Each request then gets its
 * own `used` after it, and its own event row, in queue order.
 *
 * Only counters that exist are updated here; a request with no counter row
 * yet, a stale cached subject, or a group that does not fit whole is simply
 * not returned, and the caller decides each of those with the
 * single-request statements, which report denials exactly.
 */
export function grantBatchSql(s: string): string {
  return `WITH req AS MATERIALIZED (
  SELECT r.*,
         -- One index probe per request: the subject still has the cached plan, overrides and suspension
         -- (a scalar subquery, so the planner cannot turn it into a scan of every subject).
         COALESCE((SELECT s.id = r.id AND s.plan = r.plan AND s.overrides = r.overrides AND NOT s.suspended
                   FROM ${s}.subjects s WHERE s.rid = r.rid), false) AS fresh
  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
              $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
    WITH ORDINALITY AS r(rid, start_ms, end_ms, period_key, feature, amount, lim, at_ms, meta, id, plan, overrides, idem_key, view, fingerprint, ord)
), placed AS MATERIALIZED (
  -- upto: the units of this request and of those queued before it on the same counter.
  SELECT r.*, (SUM(r.amount) OVER (PARTITION BY r.rid, r.start_ms, r.feature ORDER BY r.ord))::bigint AS upto
  FROM req r WHERE r.fresh
), grp AS MATERIALIZED (
  -- slack: the highest counter value at which every request of the group still fits (NULL: all unlimited).
  -- Counters in one order in every process, so two batches do not lock rows in opposite orders.
  SELECT rid, start_ms, feature, SUM(amount)::bigint AS total, MIN(lim - upto) AS slack
  FROM placed GROUP BY rid, start_ms, feature ORDER BY rid, start_ms, feature
), upd AS (
  UPDATE ${s}.counters c SET used = c.used + g.total
  FROM grp g
  WHERE c.subject_rid = g.rid AND c.period_start_ms = g.start_ms AND c.feature = g.feature
    AND (g.slack IS NULL OR c.used <= g.slack)
  RETURNING g.rid, g.start_ms, g.feature, c.used - g.total AS before
), granted AS (
  SELECT p.*, u.before + p.upto AS used
  FROM placed p JOIN upd u ON u.rid = p.rid AND u.start_ms = p.start_ms AND u.feature = p.feature
), ev AS (
  INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
  SELECT g.rid, 'consume', g.feature, g.start_ms, g.end_ms, g.at_ms, g.amount, g.amount, g.used, g.lim, g.idem_key,
    CASE WHEN g.idem_key IS NULL THEN NULL
         ELSE json_build_object('granted', true, 'used', g.used, 'limit', g.lim,
           'remaining', CASE WHEN g.lim IS NULL THEN NULL ELSE GREATEST(0, g.lim - g.used) END,
           ${periodFieldsSql('g.view')})::text
    END,
    g.meta, g.fingerprint
  FROM granted g ORDER BY g.ord
)
SELECT ord, used FROM granted`;
}

interface Pending {
  readonly values: GrantValues;
  /** The counter row this grant writes. */
  readonly counter: string;
  resolve(used: number | undefined): void;
  reject(e: unknown): void;
}

/** Requests per batch statement. */
const MAX_BATCH = 64;

/**
 * Group commit for grants. While fewer than `maxInFlight` grant statements
 * are running, a grant is sent at once, alone; when they are all busy, grants
 * queue and the next free slot sends the queue as one statement. A lightly
 * loaded process therefore pays no latency for it, and a busy one spends one
 * round trip and one commit on many grants instead of one each.
 */
export class GrantBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  /** A pump is due at the end of this turn of the event loop (see schedule). */
  private scheduled = false;

  constructor(
    private readonly db: PgDb,
    private readonly single: { text: string; name: string },
    private readonly batch: { text: string; name: string },
    private readonly maxInFlight: number,
  ) {}

  /** Resolves to the counter after the grant, or undefined when this path granted nothing. */
  submit(values: GrantValues): Promise<number | undefined> {
    if (this.maxInFlight <= 0) return this.runSingle(values);
    return new Promise((resolve, reject) => {
      this.queue.push({
        values,
        counter: `${values[0]}|${values[1]}|${values[4]}`,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  /**
   * Sends at the end of this turn of the event loop, not at once: the callers
   * a finished batch answers all submit their next grant within the same
   * turn, and they then go as one statement. Sending at once sent the first
   * of them alone and batched the rest, halving the mean batch.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  /** Up to MAX_BATCH queued grants, oldest first; the rest wait their turn. */
  private take(): Pending[] {
    return this.queue.splice(0, MAX_BATCH);
  }

  private async run(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const p = batch[0]!;
      await this.runSingle(p.values).then(p.resolve, p.reject);
      return;
    }
    // A fixed order of row locks, so two batches never wait on each other in a cycle. The sort is
    // stable, so requests on one counter keep their queue order, which is the order they are granted in.
    batch.sort((a, b) => (a.counter < b.counter ? -1 : a.counter > b.counter ? 1 : 0));
    const columns = Array.from({ length: 15 }, (_, i) => batch.map((p) => p.values[i]));
    try {
      const res = await this.db.query<{ ord: number; used: number }>(this.batch.text, columns, {
        // Safe to resend after an unknown outcome only if every grant in it carries a key.
        idempotent: batch.every((p) => p.values[12] !== null),
        name: this.batch.name,
      });
      const used = new Map(res.rows.map((r) => [r.ord, r.used]));
      batch.forEach((p, i) => p.resolve(used.get(i + 1)));
    } catch (e) {
      // A repeated key anywhere rolled the whole batch back: each request is decided on its own.
      if (isUniqueViolation(e, 'events_idem')) batch.forEach((p) => p.resolve(undefined));
      else batch.forEach((p) => p.reject(e));
    }
  }

  private async runSingle(values: GrantValues): Promise<number | undefined> {
    const keyed = values[12] !== null;
    try {
      const res = await this.db.query<{ used_after: number }>(this.single.text, values, {
        idempotent: keyed,
        name: this.single.name,
      });
      return res.rows[0]?.used_after;
    } catch (e) {
      // The key was used before (or by a racing call that committed first): the statement rolled back.
      if (keyed && isUniqueViolation(e, 'events_idem')) return undefined;
      throw e;
    }
  }
}
