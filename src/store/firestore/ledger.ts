import { FieldValue } from '@google-cloud/firestore';
import type { CloseTotals } from '../../core/close-summary.js';
import type { RunCheckpoint, RunRecord, RunStatus, StoreLedger } from '../quota-store.js';
import { RunNotFoundError } from '../shared/errors.js';
import {
  advanceCheckpoint,
  checkpointOnBegin,
  isUnfinishedRun,
  UNFINISHED_RUN_STATUSES,
} from '../shared/ledger-rules.js';
import { runTx } from './client.js';
import type { FirestoreOptions } from './config.js';
import type { FsContext } from './context.js';
import { COLLECTIONS, toMs, ts } from './layout.js';
import { exportBeforeReset } from './pre-reset-export.js';
import { recountClosed } from './recount.js';
import { EMPTY_CHECKPOINT, toRun } from './run-record.js';

/** The ledger role: one document per period key in quotaclockRuns, each change a transaction. */
export class FsLedger implements StoreLedger {
  constructor(
    private readonly ctx: FsContext,
    private readonly options: Pick<FirestoreOptions, 'backupDir' | 'projectId'>,
  ) {}

  async getRun(key: string): Promise<RunRecord | null> {
    const snap = await this.ctx.runRef(key).get();
    return snap.exists ? toRun(key, snap.data()!) : null;
  }

  async listRuns(limit = 100): Promise<RunRecord[]> {
    // Firestore scans ids only upwards; the key field orders the other way.
    const q = await this.ctx.db
      .collection(COLLECTIONS.runs)
      .orderBy('key', 'desc')
      .limit(limit)
      .get();
    return q.docs.map((d) => toRun(d.id, d.data()));
  }

  async unfinishedRuns(): Promise<RunRecord[]> {
    const q = await this.ctx.db
      .collection(COLLECTIONS.runs)
      .where('status', 'in', [...UNFINISHED_RUN_STATUSES])
      .get();
    return q.docs
      .map((d) => toRun(d.id, d.data()))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Opens (or resumes) the ledger entry of a key. With backup_dir set, the
   * documents about to close are exported first, before the reset writes
   * anything; a resumed run keeps the export its first attempt made.
   */
  async beginRun(
    key: string,
    holder: string,
    nowMs: number,
    period: { startMs: number; endMs: number },
  ): Promise<RunRecord> {
    const extra = await this.preResetExport(key, nowMs);
    const ref = this.ctx.runRef(key);
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) {
        const doc = {
          key,
          status: 'running',
          started_at: ts(nowMs),
          finished_at: null,
          attempts: 1,
          holder,
          period_start: ts(period.startMs),
          period_end: ts(period.endMs),
          checkpoint_json: JSON.stringify(EMPTY_CHECKPOINT),
          error: null,
          ...extra,
        };
        tx.create(ref, doc);
        return toRun(key, doc);
      }
      const r = snap.data()!;
      const existing = toRun(key, r);
      const resume = isUnfinishedRun(existing.status);
      const checkpoint = checkpointOnBegin(existing.status, existing.checkpoint);
      const startMs = Math.min(toMs(r.period_start) ?? period.startMs, period.startMs);
      const endMs = Math.max(toMs(r.period_end) ?? period.endMs, period.endMs);
      const next = {
        status: 'running',
        // A run that was killed or failed may have written a batch without its
        // checkpoint: its totals are recounted from the history when it finishes.
        ...(resume ? { recount: true } : {}),
        started_at: ts(nowMs),
        finished_at: null,
        attempts: existing.attempts + 1,
        holder,
        period_start: ts(startMs),
        period_end: ts(endMs),
        checkpoint_json: JSON.stringify(checkpoint),
        error: null,
        ...extra,
      };
      tx.update(ref, next);
      return toRun(key, { ...r, ...next });
    });
  }

  private async preResetExport(key: string, nowMs: number): Promise<Record<string, unknown>> {
    const { backupDir, projectId } = this.options;
    if (!backupDir) return {};
    const snap = await this.ctx.runRef(key).get();
    const resumed =
      snap.exists &&
      isUnfinishedRun(snap.get('status') as RunStatus) &&
      typeof snap.get('pre_reset_export') === 'string';
    if (resumed) return {};
    const done = await exportBeforeReset(this.ctx, backupDir, key, nowMs, projectId);
    return { pre_reset_export: done.path, pre_reset_documents: done.documents };
  }

  async finishRun(
    key: string,
    status: 'closed' | 'partial' | 'failed',
    nowMs: number,
    error?: string,
    checkpoint?: RunCheckpoint,
  ): Promise<RunRecord> {
    const ref = this.ctx.runRef(key);
    // After a kill or a failure, the totals of a finished key are recounted from the
    // history documents, so a batch written without its checkpoint still counts once.
    // A checkpoint the caller gives is the run's total already (merged shard rows).
    const marked = !checkpoint && status !== 'failed' && (await ref.get()).get('recount') === true;
    const recount = marked ? await recountClosed(this.ctx, key) : null;
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) throw new RunNotFoundError(key);
      const r = snap.data()!;
      const update: Record<string, unknown> = {
        status,
        finished_at: ts(nowMs),
        error: error ?? null,
      };
      if (checkpoint) {
        update.checkpoint_json = JSON.stringify(checkpoint);
        if (r.recount === true) update.recount = FieldValue.delete();
      } else if (recount) {
        const cp = toRun(key, r).checkpoint;
        update.checkpoint_json = JSON.stringify({
          ...cp,
          subjects: recount.subjects,
          summary: recount.summary,
        });
        update.recount = FieldValue.delete();
      }
      tx.update(ref, update);
      return toRun(key, { ...r, ...update });
    });
  }

  /** Adds a batch to the run's checkpoint (read-modify-write, so overlapping closers both count). */
  async addBatch(
    key: string,
    cursor: string | null,
    closed: number,
    summary: CloseTotals,
  ): Promise<void> {
    const ref = this.ctx.runRef(key);
    await runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists) return;
      const cp = toRun(key, snap.data()!).checkpoint;
      const next = advanceCheckpoint(cp, { cursor, closed, summary });
      tx.update(ref, { checkpoint_json: JSON.stringify(next) });
    });
  }
}
