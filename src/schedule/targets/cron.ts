import path from 'node:path';
import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { cronEscape, shQuote } from '../quote.js';
import { sameZone } from '../system.js';
import { toStandardCron } from '../translate.js';

export const beginMarker = (name: string) => `# BEGIN ${name}`;
export const endMarker = (name: string) => `# END ${name}`;

/**
 * What cron itself captures, beside the job's log: the one-line summary,
 * warnings and errors, and anything printed before quotaclock starts (node
 * not found, env file missing). It grows by a few lines a month.
 */
export function cronOutputFile(ctx: ScheduleContext): string {
  return path.join(path.dirname(ctx.logFile), 'cron.log');
}

/**
 * The job as cron runs it: cd to the project (cron starts in $HOME), absolute
 * node and CLI (cron's PATH is /usr/bin:/bin), the env file loaded by node
 * (never copied into the crontab), the rotating JSON log (--log-file, with
 * current.log beside it), and cron's own capture appended to cron.log.
 * `reset` is a real run: there is no flag to forget.
 */
export function cronCommand(ctx: ScheduleContext): string {
  const parts = [`cd ${shQuote(ctx.projectDir)} &&`, shQuote(ctx.nodePath)];
  if (ctx.envFile) parts.push(`--env-file=${shQuote(ctx.envFile)}`);
  parts.push(shQuote(ctx.cliPath), 'reset');
  if (ctx.configFile) parts.push('--config', shQuote(ctx.configFile));
  parts.push('--log-file', shQuote(ctx.logFile));
  parts.push('>>', shQuote(cronOutputFile(ctx)), '2>&1');
  return cronEscape(parts.join(' '));
}

export function cronBlock(ctx: ScheduleContext): string[] {
  const expression = toStandardCron(ctx.cron, 'cron');
  const lines = [
    `${beginMarker(ctx.name)}: closes ended quota periods, ${scheduleLabel(ctx)}.`,
    `# Managed by \`quotaclock schedule install --target cron\` (run it again to change this block, \`schedule uninstall\` to remove it, \`schedule doctor\` to test it).`,
  ];
  if (!sameZone(ctx.timeZone, ctx.systemTimeZone)) {
    lines.push(
      `# CRON_TZ makes cronie read the times below in ${ctx.timeZone} (this system runs in ${ctx.systemTimeZone}). Debian's cron (3.0pl1, also Ubuntu's) ignores CRON_TZ: use --target systemd or \`quotaclock daemon\` there.`,
      `CRON_TZ=${ctx.timeZone}`,
    );
  }
  lines.push(`${expression} ${cronCommand(ctx)}`, endMarker(ctx.name));
  return lines;
}

export function cronArtifact(ctx: ScheduleContext): ScheduleArtifact {
  const block = cronBlock(ctx);
  const logDir = path.dirname(ctx.logFile);
  return {
    target: 'cron',
    name: ctx.name,
    schedule: {
      cron: ctx.cron.fields.join(' '),
      timeZone: ctx.timeZone,
      native: [toStandardCron(ctx.cron, 'cron')],
    },
    files: [{ name: `${ctx.name}.crontab`, content: `${block.join('\n')}\n` }],
    commands: [
      {
        purpose: 'install (idempotent; only this block changes)',
        command: 'quotaclock schedule install --target cron',
      },
      {
        purpose: 'run the installed line the way cron does, as a dry run',
        command: 'quotaclock schedule doctor --target cron',
      },
      { purpose: 'show the crontab', command: 'crontab -l' },
      {
        purpose: 'follow the log',
        command: `tail -f ${shQuote(path.join(logDir, 'current.log'))}`,
      },
      {
        purpose: 'is cron running?',
        command: 'systemctl status cron   # or: service cron status; pgrep -a cron',
      },
    ],
    notes: [
      `${generatedBy('cron')} ${ctx.envFile ? `Variables come from ${ctx.envFile}, loaded by node --env-file (Node.js 20.6 or later).` : "No .env file was found in the project, so the job sees only cron's minimal environment; pass --env-path if it needs variables."}`,
      `The log directory ${logDir} must exist and be writable by the crontab's owner (schedule install creates it).`,
      ...(sameZone(ctx.timeZone, ctx.systemTimeZone)
        ? []
        : [
            `CRON_TZ=${ctx.timeZone} is honoured by cronie, not by Debian's or Ubuntu's default cron, which would run the line in ${ctx.systemTimeZone}.`,
          ]),
    ],
  };
}
