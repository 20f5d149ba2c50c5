import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';
import { progressBar } from '../progress.js';

export async function run(ctx: CliContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  const [{ runScheduledReset }, { describeReset }] = await Promise.all([import('../../jobs/reset-all.js'), import('../../jobs/reset-report.js')]);
  const bar = progressBar();
  try {
    const report = await runScheduledReset(qc, {
      trigger: 'cli',
      dryRun: opts.dryRun === true,
      ...(opts.forcePeriod ? { forcePeriod: String(opts.forcePeriod) } : {}),
      logger,
      onProgress: bar,
    });
    return { data: report, text: describeReset(report) };
  } finally {
    bar.end();
  }
}
