import type { QuotaStore, RunCheckpoint, RunRecord, StoreLedger } from '../quota-store.js';
import type { PgDb } from './pool.js';
import { EMPTY_CHECKPOINT, toRun, type RunRow } from '../row-mapping.js';
import { checkpointOnBegin, UNFINISHED_RUN_STATUSES } from '../shared/ledger-rules.js';
import { RunNotFoundError } from '../shared/errors.js';

export { EMPTY_CHECKPOINT, toRun, type RunRow };

/** The ledger role: the job's run ledger (one row per period key). */
export class PgLedger implements StoreLedger {
  constructor(private readonly db: PgDb) {}

  private get s() {
    return this.db.s;
  }

  async getRun(key: string): Promise<RunRecord | null> {
    const res = await this.db.query<RunRow>(`SELECT * FROM ${this.s}.runs WHERE key = $1`, [key]);
    return res.rows[0] ? toRun(res.rows[0]) : null;
  }

  async listRuns(limit = 100): Promise<RunRecord[]> {
    const res = await this.db.query<RunRow>(
      `SELECT * FROM ${this.s}.runs ORDER BY key DESC LIMIT $1`,
      [limit],
    );
    return res.rows.map(toRun);
  }

  async unfinishedRuns(): Promise<RunRecord[]> {
    const res = await this.db.query<RunRow>(
      `SELECT * FROM ${this.s}.runs WHERE status = ANY($1::text[]) ORDER BY key`,
      [UNFINISHED_RUN_STATUSES],
    );
    return res.rows.map(toRun);
  }

  async beginRun(
    key: string,
    holder: string,
    nowMs: number,
    period: { startMs: number; endMs: number },
  ): Promise<RunRecord> {
    return this.db.tx(
      async (c) => {
        // The primary key makes the ledger row unique per key; a racing second caller waits here, then updates.
        const inserted = await c.query<RunRow>(
          `INSERT INTO ${this.s}.runs (key, status, started_ms, attempts, holder, period_start_ms, period_end_ms, checkpoint)
           VALUES ($1, 'running', $2, 1, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING RETURNING *`,
          [key, nowMs, holder, period.startMs, period.endMs, JSON.stringify(EMPTY_CHECKPOINT)],
        );
        if (inserted.rows[0]) return toRun(inserted.rows[0]);
        const existing = (
          await c.query<RunRow>(`SELECT * FROM ${this.s}.runs WHERE key = $1 FOR UPDATE`, [key])
        ).rows[0]!;
        const checkpoint = checkpointOnBegin(
          existing.status,
          JSON.parse(existing.checkpoint) as RunCheckpoint,
        );
        const updated = await c.query<RunRow>(
          `UPDATE ${this.s}.runs SET status = 'running', started_ms = $1, finished_ms = NULL, attempts = attempts + 1, holder = $2,
             period_start_ms = LEAST(COALESCE(period_start_ms, $3), $3), period_end_ms = GREATEST(COALESCE(period_end_ms, $4), $4),
             checkpoint = $5, error = NULL WHERE key = $6 RETURNING *`,
          [nowMs, holder, period.startMs, period.endMs, JSON.stringify(checkpoint), key],
        );
        return toRun(updated.rows[0]!);
      },
      { idempotent: false },
    );
  }

  async finishRun(
    ...[key, status, nowMs, error, checkpoint]: Parameters<QuotaStore['finishRun']>
  ): Promise<RunRecord> {
    const res = await this.db.query<RunRow>(
      `UPDATE ${this.s}.runs SET status = $1, finished_ms = $2, error = $3, checkpoint = COALESCE($5, checkpoint)
       WHERE key = $4 RETURNING *`,
      [status, nowMs, error ?? null, key, checkpoint ? JSON.stringify(checkpoint) : null],
      { idempotent: true },
    );
    const row = res.rows[0];
    if (!row) throw new RunNotFoundError(key);
    return toRun(row);
  }
}
