import type { QuotaPolicy } from '../../core/policy.js';
import { toIso } from '../../core/period.js';
import type { IntegrityViolation } from '../quota-store.js';
import type { PgDb } from './pool.js';
import { toRun, type RunRow } from '../row-mapping.js';
import { usageAfterClose } from '../shared/ledger-rules.js';

const MAX_LISTED = 200;

/** Read-only integrity checks, one query each, in one REPEATABLE READ snapshot. */
export function verifyPostgres(
  db: PgDb,
  policy: QuotaPolicy,
  nowMs: number,
): Promise<IntegrityViolation[]> {
  const s = db.s;
  return db.tx(
    async (c) => {
      const out: IntegrityViolation[] = [];
      const unknown = await c.query<{ id: string; plan: string }>(
        `SELECT id, plan FROM ${s}.subjects WHERE plan <> ALL($1::text[]) ORDER BY id LIMIT $2`,
        [policy.catalog.planNames, MAX_LISTED],
      );
      for (const r of unknown.rows) {
        out.push({
          kind: 'unknown_plan',
          subject: r.id,
          message: `plan "${r.plan}" is not in the configuration`,
        });
      }
      const mismatches = await c.query<{
        id: string;
        period_start_ms: number;
        feature: string;
        used: number;
        total: number;
      }>(
        `WITH sums AS (SELECT subject_rid, period_start_ms, feature, SUM(delta) AS total FROM ${s}.events
                       GROUP BY subject_rid, period_start_ms, feature)
         SELECT s.id, x.period_start_ms, x.feature, x.used, x.total FROM (
           SELECT c.subject_rid, c.period_start_ms, c.feature, c.used, COALESCE(m.total, 0) AS total
             FROM ${s}.counters c LEFT JOIN sums m USING (subject_rid, period_start_ms, feature)
           UNION ALL
           SELECT m.subject_rid, m.period_start_ms, m.feature, 0, m.total
             FROM sums m LEFT JOIN ${s}.counters c USING (subject_rid, period_start_ms, feature)
            WHERE c.subject_rid IS NULL AND m.total <> 0
         ) x JOIN ${s}.subjects s ON s.rid = x.subject_rid WHERE x.used <> x.total ORDER BY s.id LIMIT $1`,
        [MAX_LISTED],
      );
      for (const r of mismatches.rows) {
        out.push({
          kind: 'counter_mismatch',
          subject: r.id,
          message: `${r.feature} in the period starting ${toIso(r.period_start_ms)}: counter ${r.used}, events sum to ${r.total}`,
        });
      }
      const over = await c.query<{
        id: string;
        feature: string;
        period_start_ms: number;
        used_after: number;
        limit_at: number;
      }>(
        `SELECT s.id, e.feature, e.period_start_ms, e.used_after, e.limit_at FROM ${s}.events e JOIN ${s}.subjects s ON s.rid = e.subject_rid
         WHERE e.kind = 'consume' AND e.delta > 0 AND e.limit_at IS NOT NULL AND e.used_after > e.limit_at ORDER BY s.id LIMIT $1`,
        [MAX_LISTED],
      );
      for (const r of over.rows) {
        out.push({
          kind: 'over_limit',
          subject: r.id,
          message: `${r.feature} in the period starting ${toIso(r.period_start_ms)}: a grant took usage to ${r.used_after}, over the limit ${r.limit_at} then in force`,
        });
      }
      const open = await c.query<{ id: string; open_key: string; open_end_ms: number }>(
        `SELECT id, open_key, open_end_ms FROM ${s}.subjects WHERE open_end_ms <= $1 ORDER BY open_end_ms, id LIMIT $2`,
        [nowMs, MAX_LISTED],
      );
      for (const r of open.rows) {
        out.push({
          kind: 'open_period',
          subject: r.id,
          message: `period ${r.open_key} ended ${toIso(r.open_end_ms)} and is not closed (run "quotaclock reset")`,
        });
      }
      const unfinished = await c.query<{ key: string; status: string; error: string | null }>(
        `SELECT key, status, error FROM ${s}.runs WHERE status IN ('running', 'failed') ORDER BY key`,
      );
      for (const r of unfinished.rows) {
        out.push({
          kind: 'run_unfinished',
          subject: null,
          message: `run ${r.key} is ${r.status}${r.error ? `: ${r.error}` : ''} (rerun "quotaclock reset" to finish it)`,
        });
      }
      const runs = (await c.query<RunRow>(`SELECT * FROM ${s}.runs`)).rows.map(toRun);
      const closedUsage = await c.query<{ key: string; feature: string; used: string }>(
        `SELECT cp.period_key AS key, c.feature, SUM(c.used) AS used
         FROM ${s}.closed_periods cp
         JOIN ${s}.counters c ON c.subject_rid = cp.subject_rid AND c.period_start_ms = cp.start_ms
         GROUP BY cp.period_key, c.feature`,
      );
      out.push(
        ...usageAfterClose(
          runs,
          closedUsage.rows.map((r) => ({ key: r.key, feature: r.feature, used: Number(r.used) })),
        ),
      );
      return out;
    },
    { idempotent: true, mode: 'snapshot' },
  );
}
