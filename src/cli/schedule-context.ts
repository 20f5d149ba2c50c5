import path from 'node:path';
import { scheduleContext, type ScheduleContext } from '../schedule/context.js';
import type { CliContext } from './context.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Flags over the config's schedule; the config is read (and validated) but no store is opened. */
export async function scheduleContextFromCli(
  ctx: CliContext,
  opts: Record<string, unknown>,
  target?: string,
): Promise<ScheduleContext> {
  const qc = await ctx.quotaclock();
  const chosen = opts.envPath !== undefined ? opts.envPath : opts.envFile;
  const envFile = chosen === false ? false : str(chosen);
  const configFile = ctx.opts.config ?? process.env.QUOTACLOCK_CONFIG;
  return scheduleContext(
    {
      target: target ?? str(opts.target),
      cron: str(opts.cron),
      timeZone: str(opts.timeZone),
      name: str(opts.name),
      projectDir: str(opts.projectDir),
      node: str(opts.node),
      cli: str(opts.cli),
      ...(envFile === undefined ? {} : { envFile }),
      // The job reads the same config file this command was given (relative to here, not to the project).
      ...(configFile ? { config: path.resolve(configFile) } : {}),
      jobLog: str(opts.jobLog),
      systemTimeZone: str(opts.systemTimeZone),
      user: str(opts.user),
      image: str(opts.image),
    },
    qc.config.schedule,
  );
}
