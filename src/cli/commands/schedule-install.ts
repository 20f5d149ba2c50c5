import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const [{ scheduleContextFromCli }, { installSchedule }, { describeInstall }] = await Promise.all([
    import('../schedule-context.js'),
    import('../../schedule/install.js'),
    import('../../schedule/describe.js'),
  ]);
  const sctx = await scheduleContextFromCli(ctx, opts);
  const result = installSchedule(sctx, {
    crontabUser: typeof opts.user === 'string' && sctx.target === 'cron' ? opts.user : null,
    ...(typeof opts.dir === 'string' ? { dir: opts.dir } : {}),
  });
  return { data: result, text: describeInstall(result) };
}
