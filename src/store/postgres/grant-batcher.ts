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
 * Several grants in ONE statement, each exactly as guarded as a single one:
 * the UPDATE's WHERE holds every request's own limit, and PostgreSQL
 * re-evaluates it on the latest version of a row another writer changed.
 * Only counters that exist are updated here; a request with no counter row
 * yet, a stale cached subject or a denial is simply not returned, and the
 * caller decides it with the single-request statements. Requests in one batch
 * never share a counter row (the batcher keeps them apart), since an UPDATE …
 * FROM updates a row once however many requests match it.
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
), upd AS (
  UPDATE ${s}.counters c SET used = c.used + r.amount
  FROM req r
  WHERE r.fresh AND c.subject_rid = r.rid AND c.period_start_ms = r.start_ms AND c.feature = r.feature
    AND (r.lim IS NULL OR c.used + r.amount <= r.lim)
  RETURNING r.ord, c.used, r.rid, r.start_ms, r.end_ms, r.feature, r.amount, r.lim, r.at_ms, r.meta, r.idem_key, r.view, r.fingerprint
), ev AS (
  INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
  SELECT u.rid, 'consume', u.feature, u.start_ms, u.end_ms, u.at_ms, u.amount, u.amount, u.used, u.lim, u.idem_key,
    CASE WHEN u.idem_key IS NULL THEN NULL
         ELSE json_build_object('granted', true, 'used', u.used, 'limit', u.lim,
           'remaining', CASE WHEN u.lim IS NULL THEN NULL ELSE GREATEST(0, u.lim - u.used) END,
           ${periodFieldsSql('u.view')})::text
    END,
    u.meta, u.fingerprint
  FROM upd u ORDER BY u.ord
)
SELECT ord, used FROM upd`;
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

  /** Up to MAX_BATCH queued grants on distinct counters, oldest first; the rest wait their turn. */
  private take(): Pending[] {
    const seen = new Set<string>();
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.queue) {
      if (batch.length < MAX_BATCH && !seen.has(p.counter)) {
        seen.add(p.counter);
        batch.push(p);
      } else {
        rest.push(p);
      }
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return batch;
  }

  private async run(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const p = batch[0]!;
      await this.runSingle(p.values).then(p.resolve, p.reject);
      return;
    }
    // A fixed order of row locks, so two batches never wait on each other in a cycle.
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
