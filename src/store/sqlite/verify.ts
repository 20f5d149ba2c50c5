import type { QuotaPolicy } from '../../core/policy.js';
import { toIso } from '../../core/period.js';
import type { IntegrityViolation } from '../quota-store.js';
import type { Db } from './connection.js';
import { toRun, type RunRow } from '../row-mapping.js';
import { usageAfterClose, type ClosedUsage } from '../shared/ledger-rules.js';

const MAX_LISTED = 200;

/** Read-only integrity checks, one query each, in one snapshot. */
export function verifySqlite(db: Db, policy: QuotaPolicy, nowMs: number): IntegrityViolation[] {
  return db
    .transaction(() => {
      const out: IntegrityViolation[] = [];
      const plans = policy.catalog.planNames;
      const unknown = db
        .prepare(
          `SELECT id, plan FROM subjects WHERE plan NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?`,
        )
        .all(JSON.stringify(plans), MAX_LISTED) as Array<{ id: string; plan: string }>;
      for (const r of unknown) {
        out.push({
          kind: 'unknown_plan',
          subject: r.id,
          message: `plan "${r.plan}" is not in the configuration`,
        });
      }
      const mismatches = db
        .prepare(
          `WITH sums AS (SELECT subject_rid, period_start_ms, feature, SUM(delta) AS total FROM events
                         GROUP BY subject_rid, period_start_ms, feature)
           SELECT s.id, x.period_start_ms, x.feature, x.used, x.total FROM (
             SELECT c.subject_rid, c.period_start_ms, c.feature, c.used, COALESCE(m.total, 0) AS total
               FROM counters c LEFT JOIN sums m USING (subject_rid, period_start_ms, feature)
             UNION ALL
             SELECT m.subject_rid, m.period_start_ms, m.feature, 0, m.total
               FROM sums m LEFT JOIN counters c USING (subject_rid, period_start_ms, feature)
              WHERE c.subject_rid IS NULL AND m.total <> 0
           ) x JOIN subjects s ON s.rid = x.subject_rid WHERE x.used <> x.total ORDER BY s.id LIMIT ?`,
        )
        .all(MAX_LISTED) as Array<{
        id: string;
        period_start_ms: number;
        feature: string;
        used: number;
        total: number;
      }>;
      for (const r of mismatches) {
        out.push({
          kind: 'counter_mismatch',
          subject: r.id,
          message: `${r.feature} in the period starting ${toIso(r.period_start_ms)}: counter ${r.used}, events sum to ${r.total}`,
        });
      }
      const over = db
        .prepare(
          `SELECT s.id, e.feature, e.period_start_ms, e.used_after, e.limit_at FROM events e JOIN subjects s ON s.rid = e.subject_rid
           WHERE e.kind = 'consume' AND e.delta > 0 AND e.limit_at IS NOT NULL AND e.used_after > e.limit_at ORDER BY s.id LIMIT ?`,
        )
        .all(MAX_LISTED) as Array<{
        id: string;
        feature: string;
        period_start_ms: number;
        used_after: number;
        limit_at: number;
      }>;
      for (const r of over) {
        out.push({
          kind: 'over_limit',
          subject: r.id,
          message: `${r.feature} in the period starting ${toIso(r.period_start_ms)}: a grant took usage to ${r.used_after}, over the limit ${r.limit_at} then in force`,
        });
      }
      const open = db
        .prepare(
          `SELECT id, open_key, open_end_ms FROM subjects WHERE open_end_ms <= ? ORDER BY open_end_ms, id LIMIT ?`,
        )
        .all(nowMs, MAX_LISTED) as Array<{ id: string; open_key: string; open_end_ms: number }>;
      for (const r of open) {
        out.push({
          kind: 'open_period',
          subject: r.id,
          message: `period ${r.open_key} ended ${toIso(r.open_end_ms)} and is not closed (run "quotaclock reset")`,
        });
      }
      const unfinished = db
        .prepare(
          `SELECT key, status, error FROM runs WHERE status IN ('running', 'failed') ORDER BY key`,
        )
        .all() as Array<{ key: string; status: string; error: string | null }>;
      for (const r of unfinished) {
        out.push({
          kind: 'run_unfinished',
          subject: null,
          message: `run ${r.key} is ${r.status}${r.error ? `: ${r.error}` : ''} (rerun "quotaclock reset" to finish it)`,
        });
      }
      const runs = (db.prepare('SELECT * FROM runs').all() as RunRow[]).map(toRun);
      const closedUsage = db
        .prepare(
          `SELECT cp.period_key AS key, c.feature, SUM(c.used) AS used
           FROM closed_periods cp JOIN counters c ON c.subject_rid = cp.subject_rid AND c.period_start_ms = cp.start_ms
           GROUP BY cp.period_key, c.feature`,
        )
        .all() as ClosedUsage[];
      out.push(...usageAfterClose(runs, closedUsage));
      return out;
    })
    .deferred();
}
