import { addUsage, type CloseTotals } from '../../core/close-summary.js';
import type {
  CloseBatchRequest,
  CloseBatchResult,
  OpenCount,
  PendingPeriod,
  PreviewBatchResult,
  StoreCloser,
} from '../quota-store.js';
import { CLOSE_FIELDS, decodeCursor, encodeCursor, scanPage, type ScanPage } from './candidates.js';
import { closeDocs } from './close-docs.js';
import { prepareClosings } from './close-prepare.js';
import type { FsContext } from './context.js';
import { dropped } from '../shared/debug-log.js';
import type { FsLedger } from './ledger.js';
import { consumeCounts, type FsMonitoring } from './monitoring.js';
import type { FsOpenPeriods } from './open-periods.js';
import { previewBatch } from './preview.js';
import { pruneClosed } from './prune.js';

/**
 * The closer role: which periods are open (open-periods.ts), the close one
 * batch at a time (each batch's writes, then its checkpoint in the ledger),
 * the dry-run preview and retention.
 */
export class FsCloser implements StoreCloser {
  constructor(
    private readonly ctx: FsContext,
    private readonly openPeriods: FsOpenPeriods,
    private readonly ledger: FsLedger,
    private readonly monitoring: FsMonitoring,
    private readonly bulkOpsPerSecond: number,
  ) {}

  pendingPeriods(nowMs: number): Promise<PendingPeriod[]> {
    return this.openPeriods.pendingPeriods(nowMs);
  }

  openCount(key: string, nowMs: number): Promise<OpenCount> {
    return this.openPeriods.openCount(key, nowMs);
  }

  previewBatch(
    nowMs: number,
    cursor: string | null,
    batchSize: number,
  ): Promise<PreviewBatchResult> {
    return previewBatch(this.ctx, nowMs, cursor, batchSize);
  }

  /** The consumes retention deletes are added to the archived totals first (consumeTotals counts them). */
  prune(olderThanMs: number, nowMs?: number): Promise<{ periods: number; events: number }> {
    return pruneClosed(this.ctx, this.bulkOpsPerSecond, olderThanMs, (gone) =>
      this.monitoring.archivePruned(consumeCounts(gone), nowMs ?? this.ctx.now()),
    );
  }

  async closeBatch(req: CloseBatchRequest): Promise<CloseBatchResult> {
    const page = await this.closePage(req);
    const cursor = encodeCursor(page.next);
    if (!req.write) {
      const prepared = await prepareClosings(this.ctx, page.docs);
      const summary: CloseTotals = {};
      for (const c of prepared) {
        for (const f of this.ctx.policy.catalog.features)
          addUsage(summary, c.doc.plan, f, c.used[f] ?? 0, c.limits[f] ?? null);
      }
      return { closed: prepared.length, summary, cursor };
    }
    const { closed, summary } = await closeDocs(
      this.ctx,
      this.bulkOpsPerSecond,
      req.key,
      page.docs,
      req.nowMs,
    );
    await this.ledger.addBatch(req.key, cursor, closed, summary);
    return { closed, summary, cursor };
  }

  private prefetched: { id: string; page: Promise<ScanPage> } | null = null;

  /**
   * The documents of one batch. While a batch is being written, the next
   * batch is already being read (it is disjoint: it starts after this one's
   * last document); a document that changes in between fails its update's
   * precondition and is read again, so reading early costs no correctness.
   */
  private async closePage(req: CloseBatchRequest): Promise<ScanPage> {
    const id = JSON.stringify([req.key, req.nowMs, req.cursor, req.batchSize, req.write]);
    const hit = this.prefetched?.id === id ? this.prefetched.page : null;
    this.prefetched = null;
    const page = await (hit ??
      scanPage(this.ctx, req.nowMs, decodeCursor(req.cursor), req.batchSize, {
        key: req.key,
        select: CLOSE_FIELDS,
      }));
    if (page.next && req.write) {
      const nextCursor = encodeCursor(page.next);
      const next = scanPage(this.ctx, req.nowMs, page.next, req.batchSize, {
        key: req.key,
        select: CLOSE_FIELDS,
      });
      // The next closeBatch awaits this page and fails with its error; this
      // handler only keeps a read nobody awaits (the run stopped) from
      // becoming an unhandled rejection.
      next.catch(dropped('reading the next close batch ahead', 'the batch that uses it rethrows'));
      this.prefetched = {
        id: JSON.stringify([req.key, req.nowMs, nextCursor, req.batchSize, req.write]),
        page: next,
      };
    }
    return page;
  }
}
