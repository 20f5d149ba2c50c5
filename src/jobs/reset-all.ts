import { loadConfig } from '../config/load.js';
import type { QuotaClockConfigInput } from '../config/schema.js';
import { createQuotaClock, type QuotaClock } from '../quotaclock.js';
import { runReset, type ResetOptions } from './reset.js';
import type { ResetReport } from './reset-report.js';

/** Who started the reset; it goes into logs and notifications. */
export type ResetTrigger = 'cli' | 'daemon' | 'aws' | 'azure' | 'gcp' | 'http' | 'library';

export interface ScheduledResetOptions extends ResetOptions {
  readonly trigger?: ResetTrigger;
  /** Where notifier and heartbeat secrets are read from; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The one path every scheduler takes into the reset: the CLI, the daemon and
 * the cloud entry points. Notifications and heartbeats hang off this
 * function, so no platform can skip them.
 */
export async function runScheduledReset(
  qc: QuotaClock,
  opts: ScheduledResetOptions = {},
): Promise<ResetReport> {
  // A dry run writes nothing and tells no one: no pings, no events, no metrics.
  if (opts.dryRun) return runReset(qc, opts);
  const { ResetMonitor } = await import('../notify/reset-monitor.js');
  const monitor = await ResetMonitor.start(qc, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.trigger ? { trigger: opts.trigger } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  let report: ResetReport;
  try {
    report = await runReset(qc, opts);
  } catch (e) {
    await monitor.failed(e);
    throw e;
  }
  // Delivery problems are in report.notifications; they never fail a reset that succeeded.
  return monitor.succeeded(report);
}

export interface ResetAllOptions extends ScheduledResetOptions {
  /** A service to use; otherwise one is built from the config file and environment. */
  readonly quotaclock?: QuotaClock;
  readonly config?: QuotaClockConfigInput;
}

/**
 * The library form of `quotaclock reset`, named after the old script's
 * function so ports are obvious. Throws on failure, so every platform that
 * calls it reports failure as failure.
 */
export async function resetAllUserQuotas(opts: ResetAllOptions = {}): Promise<ResetReport> {
  const own = !opts.quotaclock;
  const qc = opts.quotaclock ?? createQuotaClock({ config: opts.config ?? loadConfig().config });
  try {
    return await runScheduledReset(qc, { trigger: 'library', ...opts });
  } finally {
    if (own) await qc.close();
  }
}
