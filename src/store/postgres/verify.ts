import type { QuotaPolicy } from '../../core/policy.js';
import type { IntegrityViolation } from '../quota-store.js';
import type { Client, PgDb } from './pool.js';
import { toRun, type RunRow } from '../row-mapping.js';
import {
  closedUsageSql,
  counterMismatchSql,
  MAX_LISTED,
  overLimitSql,
  violationsOf,
} from '../sql/verify-rules.js';

/** Rows of one query, typed as the caller expects them. */
async function rowsOf<T>(c: Client, sql: string, args: unknown[] = []): Promise<T[]> {
  return (await c.query(sql, args)).rows as T[];
}

/** Read-only integrity checks, one query each, in one REPEATABLE READ snapshot. */
export function verifyPostgres(
  db: PgDb,
  policy: QuotaPolicy,
  nowMs: number,
): Promise<IntegrityViolation[]> {
  const s = db.s;
  const table = (name: string) => `${s}.${name}`;
  return db.tx(
    async (c) => {
      return violationsOf({
        unknownPlans: await rowsOf(
          c,
          `SELECT id, plan FROM ${s}.subjects WHERE plan <> ALL($1::text[]) ORDER BY id LIMIT $2`,
          [policy.catalog.planNames, MAX_LISTED],
        ),
        mismatches: await rowsOf(c, counterMismatchSql(table, '$1'), [MAX_LISTED]),
        overLimit: await rowsOf(c, overLimitSql(table, '$1'), [MAX_LISTED]),
        openPeriods: await rowsOf(
          c,
          `SELECT id, open_key, open_end_ms FROM ${s}.subjects WHERE open_end_ms <= $1 ORDER BY open_end_ms, id LIMIT $2`,
          [nowMs, MAX_LISTED],
        ),
        unfinishedRuns: await rowsOf(
          c,
          `SELECT key, status, error FROM ${s}.runs WHERE status IN ('running', 'failed') ORDER BY key`,
        ),
        runs: (await rowsOf<RunRow>(c, `SELECT * FROM ${s}.runs`)).map(toRun),
        // SUM over BIGINT comes back as NUMERIC, a string.
        closedUsage: (
          await rowsOf<{ key: string; feature: string; used: string }>(c, closedUsageSql(table))
        ).map((r) => ({ key: r.key, feature: r.feature, used: Number(r.used) })),
      });
    },
    { idempotent: true, mode: 'snapshot' },
  );
}
