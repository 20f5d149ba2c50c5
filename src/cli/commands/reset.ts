import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';
import { progressBar } from '../progress.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  if (opts.execute === true) {
    throw new BadInputError(
      '--execute: not needed, quotaclock resets for real by default (the old script was a dry run without it); use --dry-run to only see what would be closed',
      '--execute',
    );
  }
  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  const [{ runScheduledReset }, { describeReset }, { parseShard }, { logResetFailure }] =
    await Promise.all([
      import('../../jobs/reset-all.js'),
      import('../../jobs/reset-report.js'),
      import('../../jobs/reset/shard.js'),
      import('../../jobs/failure-log.js'),
    ]);
  // Malformed values are refused before anything is opened or written.
  const shard = opts.shard === undefined ? undefined : parseShard(String(opts.shard));
  const bar = progressBar();
  // Kill tests only: a pause after each committed batch widens the windows a kill -9 must hit.
  const pauseMs = Number(process.env.QUOTACLOCK_TEST_BATCH_PAUSE_MS ?? 0);
  try {
    const report = await runScheduledReset(qc, {
      trigger: 'cli',
      dryRun: opts.dryRun === true,
      force: opts.force === true,
      ...(opts.forcePeriod ? { forcePeriod: String(opts.forcePeriod) } : {}),
      ...(shard ? { shard } : {}),
      logger,
      onProgress: bar,
      ...(pauseMs > 0
        ? { afterBatch: () => new Promise<void>((r) => setTimeout(r, pauseMs)) }
        : {}),
    });
    return { data: report, text: describeReset(report, qc.policy.catalog.planNames) };
  } catch (e) {
    logResetFailure(logger, e, { trigger: 'cli' });
    throw e;
  } finally {
    bar.end();
  }
}
