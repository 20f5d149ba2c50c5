import { runVerify, type VerifyReport } from '../jobs/verify.js';
import type { Logger } from '../log/logger.js';
import type { QuotaClock } from '../quotaclock.js';
import { Notifications } from './dispatcher.js';
import { messageContext, verifyFailedEvent } from './messages.js';
import { failureSamples } from './reset-monitor.js';
import type { DeliveryResult } from './types.js';

/**
 * `verify`, and a verify.failed event when it finds violations. The CLI and
 * the daemon use this; runVerify itself stays free of side effects.
 */
export async function runVerifyAndNotify(
  qc: QuotaClock,
  opts: { logger?: Logger; trigger?: string; env?: NodeJS.ProcessEnv; now?: number } = {},
): Promise<VerifyReport & { notifications?: DeliveryResult[] }> {
  // Wall clock: it measures how long verify took.
  const started = Date.now();
  const report = await runVerify(qc, opts.now === undefined ? {} : { now: opts.now });
  if (report.ok) return report;
  const notifications = new Notifications(qc.config.notify, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    env: opts.env ?? process.env,
  });
  if (!notifications.wants('verify.failed')) return report;
  const ctx = {
    ...messageContext(qc.config, {
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.trigger ? { trigger: opts.trigger } : {}),
    }),
    nowMs: opts.now ?? qc.now(),
  };
  const results = await notifications.emit(verifyFailedEvent(report, ctx, Date.now() - started));
  const failed = failureSamples(results);
  if (failed.length) {
    // Metrics are stamped on the wall clock (when this process acted), not `--now`.
    await (await qc.store()).recordJobMetrics(failed, Date.now()).catch((e: unknown) => {
      // Safe to drop: each failed delivery is in the log and in `notifications`; only the counter is lost.
      opts.logger?.debug({ err: e }, 'could not record notifier failure metrics');
    });
  }
  return { ...report, notifications: results };
}
