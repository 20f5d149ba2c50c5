import type { QuotaPolicy } from '../../core/policy.js';
import type { IntegrityViolation } from '../quota-store.js';
import type { Db } from './connection.js';
import { toRun, type RunRow } from '../row-mapping.js';
import type { ClosedUsage } from '../shared/ledger-rules.js';
import {
  closedUsageSql,
  counterMismatchSql,
  MAX_LISTED,
  overLimitSql,
  violationsOf,
  type VerifyRows,
} from '../sql/verify-rules.js';

const table = (name: string) => name;

/** Read-only integrity checks, one query each, in one snapshot. */
export function verifySqlite(db: Db, policy: QuotaPolicy, nowMs: number): IntegrityViolation[] {
  return db
    .transaction(() => {
      const rows: VerifyRows = {
        unknownPlans: db
          .prepare(
            `SELECT id, plan FROM subjects WHERE plan NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?`,
          )
          .all(JSON.stringify(policy.catalog.planNames), MAX_LISTED) as VerifyRows['unknownPlans'],
        mismatches: db
          .prepare(counterMismatchSql(table, '?'))
          .all(MAX_LISTED) as VerifyRows['mismatches'],
        overLimit: db.prepare(overLimitSql(table, '?')).all(MAX_LISTED) as VerifyRows['overLimit'],
        openPeriods: db
          .prepare(
            `SELECT id, open_key, open_end_ms FROM subjects WHERE open_end_ms <= ? ORDER BY open_end_ms, id LIMIT ?`,
          )
          .all(nowMs, MAX_LISTED) as VerifyRows['openPeriods'],
        unfinishedRuns: db
          .prepare(
            `SELECT key, status, error FROM runs WHERE status IN ('running', 'failed') ORDER BY key`,
          )
          .all() as VerifyRows['unfinishedRuns'],
        runs: (db.prepare('SELECT * FROM runs').all() as RunRow[]).map(toRun),
        closedUsage: db.prepare(closedUsageSql(table)).all() as ClosedUsage[],
      };
      return violationsOf(rows);
    })
    .deferred();
}
