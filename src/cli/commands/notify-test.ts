import { QuotaClockError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { table, type CommandResult } from '../output.js';

/** Sends a test message to every configured target, whatever its event filter, and a heartbeat success ping. */
export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  const [{ Notifications }, { createHeartbeat }, { messageContext, testEvent }] = await Promise.all(
    [
      import('../../notify/dispatcher.js'),
      import('../../notify/heartbeat.js'),
      import('../../notify/messages.js'),
    ],
  );
  const cfg = qc.config.notify;
  const notifications = new Notifications(cfg, { logger });
  const heartbeat =
    opts.heartbeat === false ? null : createHeartbeat(cfg.heartbeat, process.env, logger);
  if (!notifications.configured && !heartbeat) {
    throw new QuotaClockError(
      'NOTIFY_CONFIG',
      'notify.targets: no notification targets are configured (and no heartbeat); see docs/monitoring.md',
      { where: 'notify.targets' },
    );
  }
  const ctxMsg = messageContext(qc.config, { logger, trigger: 'cli' });
  const results = await notifications.emit(testEvent(ctxMsg), { all: true });
  const ping = await heartbeat?.ping('success', `quotaclock notify test from ${ctxMsg.host}`);
  if (ping) results.push(ping);
  const failed = results.filter((r) => !r.ok);
  const rows = [
    ['target', 'result', 'attempts', 'time', 'error'],
    ...results.map((r) => [
      r.target,
      r.ok ? 'sent' : 'FAILED',
      String(r.attempts),
      `${r.durationMs} ms`,
      r.error ?? '',
    ]),
  ];
  const summary = failed.length
    ? `${failed.length} of ${results.length} target(s) failed`
    : `sent to ${results.length} target(s)`;
  return {
    data: { ok: failed.length === 0, results },
    text: `${table(rows)}\n${summary}`,
    exitCode: failed.length ? 1 : 0,
  };
}
