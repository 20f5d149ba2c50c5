import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  _ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const [{ parseTarget, DEFAULT_NAME }, { uninstallSchedule }, { describeInstall }] =
    await Promise.all([
      import('../../schedule/context.js'),
      import('../../schedule/install.js'),
      import('../../schedule/describe.js'),
    ]);
  // Uninstall needs only which target and which name: no config, no paths of this machine.
  const target = parseTarget(opts.target);
  const name = typeof opts.name === 'string' ? opts.name : DEFAULT_NAME;
  const result = uninstallSchedule(
    { target, name },
    {
      crontabUser: typeof opts.user === 'string' && target === 'cron' ? opts.user : null,
      ...(typeof opts.dir === 'string' ? { dir: opts.dir } : {}),
    },
  );
  return { data: result, text: describeInstall(result) };
}
