import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  _ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const [{ parseTarget }, { cronDoctor }, { describeDoctor }] = await Promise.all([
    import('../../schedule/context.js'),
    import('../../schedule/doctor.js'),
    import('../../schedule/describe.js'),
  ]);
  const target = parseTarget(opts.target ?? 'cron');
  if (target !== 'cron') {
    const { QuotaClockError } = await import('../../core/errors.js');
    throw new QuotaClockError(
      'SCHEDULE_UNSUPPORTED',
      `--target ${target}: doctor tests crontab lines; for ${target}, see the verify commands of \`quotaclock schedule print --target ${target}\``,
      { where: '--target' },
    );
  }
  const report = cronDoctor({
    name: typeof opts.name === 'string' ? opts.name : 'quotaclock-reset',
    crontabUser: typeof opts.user === 'string' ? opts.user : null,
  });
  return { data: report, text: describeDoctor(report), exitCode: report.ok ? 0 : 1 };
}
