import type { QuotaClock } from '../quotaclock.js';
import { newHolderId } from './lease.js';
import type { ResetReport } from './reset-report.js';
import { closePeriods, finishReport } from './reset/close-periods.js';
import { resetContext, type ResetContext } from './reset/context.js';
import type { ResetOptions } from './reset/options.js';
import { checkForcePeriod } from './reset/force-period.js';
import { checkNotAhead, previewReset } from './reset/preview.js';
import { checkShardAllowed } from './reset/shard.js';
import { shardedStrategy } from './reset/sharded.js';
import { singleStrategy } from './reset/single.js';

// The reset job's public face; its parts live in ./reset/.
export { ResetInterruptedError } from './reset/close-pass.js';
export type { ResetContext } from './reset/context.js';
export type { ResetOptions, ResetProgress } from './reset/options.js';
export { parseShard, type Shard } from './reset/shard.js';

/**
 * Closes every period that has ended, oldest first, exactly once per subject
 * (see closePeriods): the whole close, or worker i of n with `shard`.
 */
export async function runReset(qc: QuotaClock, opts: ResetOptions = {}): Promise<ResetReport> {
  // Wall clock: the report's duration counts opening the store too.
  const startedMs = Date.now();
  return resetWith(await resetContext(qc, opts.logger), opts, startedMs);
}

/** runReset on a narrow context instead of the whole service. */
export async function resetWith(
  ctx: ResetContext,
  opts: ResetOptions = {},
  startedMs = Date.now(),
): Promise<ResetReport> {
  const stamp = {
    startedMs,
    nowMs: opts.now ?? ctx.clock(),
    holder: newHolderId(),
    dryRun: opts.dryRun ?? false,
  };
  if (opts.shard) checkShardAllowed(ctx.store, opts);
  else checkForcePeriod(ctx.policy, stamp.nowMs, opts.forcePeriod);
  if (opts.dryRun) {
    const preview = await previewReset(ctx, stamp.nowMs, opts.forcePeriod);
    return finishReport(stamp, { outcome: 'ok', ...preview, pruned: null });
  }
  await checkNotAhead(ctx, stamp.nowMs, opts);
  const strategy = opts.shard
    ? shardedStrategy(ctx, stamp, opts.shard)
    : singleStrategy(ctx, stamp, opts.forcePeriod);
  return closePeriods(ctx, strategy, stamp, opts);
}
