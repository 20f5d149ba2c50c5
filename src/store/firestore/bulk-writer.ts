import type { BulkWriter, BulkWriterError } from '@google-cloud/firestore';
import { GRPC } from './client.js';
import type { FsContext } from './context.js';

/**
 * The BulkWriter of the close and the prune: throttled to the configured
 * operations per second (0: unthrottled), retrying transient failures a few times.
 */
export function closeBulkWriter(ctx: FsContext, ops: number): BulkWriter {
  const bw = ctx.db.bulkWriter({
    throttling: ops === 0 ? false : { initialOpsPerSecond: ops, maxOpsPerSecond: ops },
  });
  bw.onWriteError((e: BulkWriterError) => {
    const code = e.code as number;
    const transient =
      code === GRPC.ABORTED ||
      code === GRPC.UNAVAILABLE ||
      code === GRPC.RESOURCE_EXHAUSTED ||
      code === GRPC.DEADLINE_EXCEEDED;
    return transient && e.failedAttempts < 8;
  });
  return bw;
}
