import type { QuotaStore, RunCheckpoint, RunRecord, StoreLedger } from '../quota-store.js';
import { EMPTY_CHECKPOINT, toRun, type RunRow } from '../row-mapping.js';
import type { Synchronous } from '../shared/compose-store.js';
import { RunNotFoundError } from '../shared/errors.js';
import { checkpointOnBegin, UNFINISHED_RUN_STATUSES } from '../shared/ledger-rules.js';
import type { Db } from './connection.js';

/** The ledger role: the job's run ledger (one row per period key). */
export class SqliteLedger implements Synchronous<StoreLedger> {
  private readonly runByKey;

  constructor(private readonly db: Db) {
    this.runByKey = db.prepare('SELECT * FROM runs WHERE key = ?');
  }

  getRun(key: string): RunRecord | null {
    const r = this.runByKey.get(key) as RunRow | undefined;
    return r ? toRun(r) : null;
  }

  listRuns(limit = 100): RunRecord[] {
    return (
      this.db.prepare('SELECT * FROM runs ORDER BY key DESC LIMIT ?').all(limit) as RunRow[]
    ).map(toRun);
  }

  unfinishedRuns(): RunRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM runs WHERE status IN (SELECT value FROM json_each(?)) ORDER BY key')
        .all(JSON.stringify(UNFINISHED_RUN_STATUSES)) as RunRow[]
    ).map(toRun);
  }

  beginRun(
    key: string,
    holder: string,
    nowMs: number,
    period: { startMs: number; endMs: number },
  ): RunRecord {
    return this.db
      .transaction(() => {
        const existing = this.runByKey.get(key) as RunRow | undefined;
        if (!existing) {
          this.db
            .prepare(
              `INSERT INTO runs (key, status, started_ms, attempts, holder, period_start_ms, period_end_ms, checkpoint)
               VALUES (?, 'running', ?, 1, ?, ?, ?, ?)`,
            )
            .run(
              key,
              nowMs,
              holder,
              period.startMs,
              period.endMs,
              JSON.stringify(EMPTY_CHECKPOINT),
            );
        } else {
          const checkpoint = checkpointOnBegin(
            existing.status,
            JSON.parse(existing.checkpoint) as RunCheckpoint,
          );
          this.db
            .prepare(
              `UPDATE runs SET status = 'running', started_ms = ?, finished_ms = NULL, attempts = attempts + 1, holder = ?,
                 period_start_ms = MIN(COALESCE(period_start_ms, ?), ?), period_end_ms = MAX(COALESCE(period_end_ms, ?), ?),
                 checkpoint = ?, error = NULL WHERE key = ?`,
            )
            .run(
              nowMs,
              holder,
              period.startMs,
              period.startMs,
              period.endMs,
              period.endMs,
              JSON.stringify(checkpoint),
              key,
            );
        }
        return toRun(this.runByKey.get(key) as RunRow);
      })
      .immediate();
  }

  finishRun(
    ...[key, status, nowMs, error, checkpoint]: Parameters<QuotaStore['finishRun']>
  ): RunRecord {
    const row = this.db
      .prepare(
        'UPDATE runs SET status = ?, finished_ms = ?, error = ?, checkpoint = COALESCE(?, checkpoint) WHERE key = ? RETURNING *',
      )
      .get(status, nowMs, error ?? null, checkpoint ? JSON.stringify(checkpoint) : null, key) as
      RunRow | undefined;
    if (!row) throw new RunNotFoundError(key);
    return toRun(row);
  }
}
