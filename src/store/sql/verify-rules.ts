import { toIso } from '../../core/period.js';
import type { IntegrityViolation, RunRecord } from '../quota-store.js';
import { usageAfterClose, type ClosedUsage } from '../shared/ledger-rules.js';

/** How many subjects one check lists at most. */
export const MAX_LISTED = 200;

/** What each of verify's queries read, in both SQL engines. */
export interface VerifyRows {
  /** Subjects whose plan is not in the configuration. */
  readonly unknownPlans: readonly { id: string; plan: string }[];
  /** Counters that differ from the sum of their events. */
  readonly mismatches: readonly {
    id: string;
    period_start_ms: number;
    feature: string;
    used: number;
    total: number;
  }[];
  /** Consume events that took usage over the limit then in force. */
  readonly overLimit: readonly {
    id: string;
    feature: string;
    period_start_ms: number;
    used_after: number;
    limit_at: number;
  }[];
  /** Subjects whose first open period has ended. */
  readonly openPeriods: readonly { id: string; open_key: string; open_end_ms: number }[];
  /** Ledger rows of runs that did not finish. */
  readonly unfinishedRuns: readonly { key: string; status: string; error: string | null }[];
  /** The whole run ledger. */
  readonly runs: readonly RunRecord[];
  /** Net usage held by the closed periods of each key, per feature. */
  readonly closedUsage: readonly ClosedUsage[];
}

/**
 * The counter_mismatch query: every counter against the sum of its events,
 * and event sums with no counter. `t` names a table (schema-qualified where
 * the engine needs it); `limit` is the engine's placeholder for MAX_LISTED.
 */
export function counterMismatchSql(t: (table: string) => string, limit: string): string {
  return `WITH sums AS (SELECT subject_rid, period_start_ms, feature, SUM(delta) AS total FROM ${t('events')}
                 GROUP BY subject_rid, period_start_ms, feature)
   SELECT s.id, x.period_start_ms, x.feature, x.used, x.total FROM (
     SELECT c.subject_rid, c.period_start_ms, c.feature, c.used, COALESCE(m.total, 0) AS total
       FROM ${t('counters')} c LEFT JOIN sums m USING (subject_rid, period_start_ms, feature)
     UNION ALL
     SELECT m.subject_rid, m.period_start_ms, m.feature, 0, m.total
       FROM sums m LEFT JOIN ${t('counters')} c USING (subject_rid, period_start_ms, feature)
      WHERE c.subject_rid IS NULL AND m.total <> 0
   ) x JOIN ${t('subjects')} s ON s.rid = x.subject_rid WHERE x.used <> x.total ORDER BY s.id LIMIT ${limit}`;
}

/** The over_limit query: grants recorded above the limit they were checked against. */
export function overLimitSql(t: (table: string) => string, limit: string): string {
  return `SELECT s.id, e.feature, e.period_start_ms, e.used_after, e.limit_at
   FROM ${t('events')} e JOIN ${t('subjects')} s ON s.rid = e.subject_rid
   WHERE e.kind = 'consume' AND e.delta > 0 AND e.limit_at IS NOT NULL AND e.used_after > e.limit_at
   ORDER BY s.id LIMIT ${limit}`;
}

/** The usage_after_close query: the usage the closed periods of each key hold now. */
export function closedUsageSql(t: (table: string) => string): string {
  return `SELECT cp.period_key AS key, c.feature, SUM(c.used) AS used
   FROM ${t('closed_periods')} cp
   JOIN ${t('counters')} c ON c.subject_rid = cp.subject_rid AND c.period_start_ms = cp.start_ms
   GROUP BY cp.period_key, c.feature`;
}

/** verify's rows turned into violations, check by check in a fixed order. */
export function violationsOf(rows: VerifyRows): IntegrityViolation[] {
  const out: IntegrityViolation[] = [];
  for (const r of rows.unknownPlans) {
    out.push({
      kind: 'unknown_plan',
      subject: r.id,
      message: `plan "${r.plan}" is not in the configuration`,
    });
  }
  for (const r of rows.mismatches) {
    out.push({
      kind: 'counter_mismatch',
      subject: r.id,
      message: `${r.feature} in the period starting ${toIso(r.period_start_ms)}: counter ${r.used}, events sum to ${r.total}`,
    });
  }
  for (const r of rows.overLimit) {
    out.push({
      kind: 'over_limit',
      subject: r.id,
      message: `${r.feature} in the period starting ${toIso(r.period_start_ms)}: a grant took usage to ${r.used_after}, over the limit ${r.limit_at} then in force`,
    });
  }
  for (const r of rows.openPeriods) {
    out.push({
      kind: 'open_period',
      subject: r.id,
      message: `period ${r.open_key} ended ${toIso(r.open_end_ms)} and is not closed (run "quotaclock reset")`,
    });
  }
  for (const r of rows.unfinishedRuns) {
    out.push({
      kind: 'run_unfinished',
      subject: null,
      message: `run ${r.key} is ${r.status}${r.error ? `: ${r.error}` : ''} (rerun "quotaclock reset" to finish it)`,
    });
  }
  out.push(...usageAfterClose(rows.runs, rows.closedUsage));
  return out;
}
