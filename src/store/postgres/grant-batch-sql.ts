import { periodFieldsSql } from './outcome-sql.js';

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

/** The requests as rows, each with whether its cached subject is still current. */
function requestsCte(s: string): string {
  return `req AS MATERIALIZED (
  SELECT r.*,
         -- One index probe per request: the subject still has the cached plan, overrides and suspension
         -- (a scalar subquery, so the planner cannot turn it into a scan of every subject).
         COALESCE((SELECT s.id = r.id AND s.plan = r.plan AND s.overrides = r.overrides AND NOT s.suspended
                   FROM ${s}.subjects s WHERE s.rid = r.rid), false) AS fresh
  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
              $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
    WITH ORDINALITY AS r(rid, start_ms, end_ms, period_key, feature, amount, lim, at_ms, meta, id, plan, overrides, idem_key, view, fingerprint, ord)
)`;
}

/** One event row per granted request (`g` has the request's columns and its `used` after), in request order. */
function grantEventsCte(s: string, granted: string): string {
  return `ev AS (
  INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta, fingerprint)
  SELECT g.rid, 'consume', g.feature, g.start_ms, g.end_ms, g.at_ms, g.amount, g.amount, g.used, g.lim, g.idem_key,
    CASE WHEN g.idem_key IS NULL THEN NULL
         ELSE json_build_object('granted', true, 'used', g.used, 'limit', g.lim,
           'remaining', CASE WHEN g.lim IS NULL THEN NULL ELSE GREATEST(0, g.lim - g.used) END,
           ${periodFieldsSql('g.view')})::text
    END,
    g.meta, g.fingerprint
  FROM ${granted} g ORDER BY g.ord
)`;
}

/**
 * Several grants in ONE statement, each exactly as guarded as a single one,
 * for requests on distinct counter rows: the UPDATE's WHERE holds every
 * request's own limit, and PostgreSQL re-evaluates it on the latest version
 * of a row another writer changed. Only counters that exist are updated
 * here; a request with no counter row yet, a stale cached subject or a
 * denial is simply not returned, and the caller decides it with the
 * single-request statements. An UPDATE … FROM updates a row once however
 * many requests match it, so requests that share a row go by grantGroupsSql.
 */
export function grantBatchSql(s: string): string {
  return `WITH ${requestsCte(s)}, upd AS (
  UPDATE ${s}.counters c SET used = c.used + r.amount
  FROM req r
  WHERE r.fresh AND c.subject_rid = r.rid AND c.period_start_ms = r.start_ms AND c.feature = r.feature
    AND (r.lim IS NULL OR c.used + r.amount <= r.lim)
  RETURNING r.ord, c.used, r.rid, r.start_ms, r.end_ms, r.feature, r.amount, r.lim, r.at_ms, r.meta, r.idem_key, r.view, r.fingerprint
), ${grantEventsCte(s, 'upd')}
SELECT ord, used FROM upd`;
}

/**
 * The same for a batch where some requests share a counter row (a busy
 * subject sends many). Requests on one row form a group that is granted whole
 * or not at all: the row gets the group's total in one update, guarded so
 * that every request still fits its own limit at its place in the queue
 * (`used <= lim - the units of this request and those before it`, for each
 * request, folded into the minimum `slack`). PostgreSQL re-evaluates that
 * guard on the latest version of the row, so concurrent writers can never
 * overshoot. Each granted request then gets its own count and event row. A
 * group that does not fit whole is not returned, and the caller decides each
 * of its requests with the single-request statements, which report denials
 * exactly.
 */
export function grantGroupsSql(s: string): string {
  return `WITH ${requestsCte(s)}, placed AS MATERIALIZED (
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
), ${grantEventsCte(s, 'granted')}
SELECT ord, used FROM granted`;
}
