import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import { QuotaClockError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import type { QuotaStore } from '../../store/quota-store.js';
import type { HeldLease } from '../lease.js';
import { markLogged } from '../failure-log.js';

/** A run stopped on request between two committed batches; nothing is lost, the next run resumes. */
export class ResetInterruptedError extends QuotaClockError {
  readonly interrupted = true;
  constructor(key: string) {
    super(
      'RESET_FAILED',
      `reset interrupted by shutdown while closing ${key}, after a committed batch; ` +
        'the next run resumes from its checkpoint',
    );
  }
}

export interface ClosePassOptions {
  readonly key: string;
  readonly nowMs: number;
  readonly cursor: string | null;
  readonly batchSize: number;
  /** Subjects expected, for progress only. */
  readonly total: number;
  readonly shard?: { readonly index: number; readonly count: number };
  /** Ledger row that keeps this pass's checkpoint (a shard's own row). */
  readonly ledgerKey?: string;
  readonly lease: HeldLease;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { key: string; done: number; total: number }) => void;
  readonly afterBatch?: (p: { key: string; done: number; total: number }) => void | Promise<void>;
}

/**
 * One pass over the subjects of a period, batch by batch from the checkpoint.
 * Each batch commits with its checkpoint inside the store; between batches
 * the lease is renewed and a requested stop is honoured.
 */
export async function closePass(
  store: QuotaStore,
  o: ClosePassOptions,
): Promise<{ closed: number; summary: CloseTotals }> {
  let cursor = o.cursor;
  let closed = 0;
  const summary: CloseTotals = {};
  do {
    const batch = await store.closeBatch({
      key: o.key,
      nowMs: o.nowMs,
      cursor,
      batchSize: o.batchSize,
      write: true,
      ...(o.shard ? { shard: o.shard } : {}),
      ...(o.ledgerKey ? { ledgerKey: o.ledgerKey } : {}),
    });
    cursor = batch.cursor;
    closed += batch.closed;
    mergeTotals(summary, batch.summary);
    o.onProgress?.({ key: o.key, done: closed, total: o.total });
    await o.afterBatch?.({ key: o.key, done: closed, total: o.total });
    await o.lease.keepAlive();
    if (o.signal?.aborted && cursor !== null) throw new ResetInterruptedError(o.key);
  } while (cursor !== null);
  return { closed, summary };
}

/**
 * A reset that stopped on an error: marks the ledger row it was working on
 * as failed (best effort, the store may be what failed), writes the error
 * line, and returns the error to throw, as a QuotaClockError.
 */
export async function failRun(
  store: QuotaStore,
  ledgerKey: string | null,
  nowMs: number,
  e: unknown,
  log: Logger,
  context: { what: string } & Record<string, unknown>,
): Promise<QuotaClockError> {
  const message = e instanceof Error ? e.message : String(e);
  if (ledgerKey) {
    await store.finishRun(ledgerKey, 'failed', nowMs, message).catch((markError: unknown) => {
      // Safe to drop: the row stays 'running', which the next run resumes just as it
      // resumes a failed one, and the error that matters is the one thrown below.
      log.debug({ err: markError, ledgerKey }, 'could not mark the run failed');
    });
  }
  const { what, ...fields } = context;
  log.error({ err: e, ...fields }, `${what} failed: ${message}`);
  const failure =
    e instanceof QuotaClockError
      ? e
      : new QuotaClockError('RESET_FAILED', `reset failed: ${message}`, { cause: e });
  markLogged(failure);
  return failure;
}
