import {
  app as functionsApp,
  type InvocationContext,
  type Timer,
  type TimerFunctionOptions,
} from '@azure/functions';
import { runEntryReset, type EntryOptions } from './reset-entry.js';

/** NCRONTAB for cron "1 0 1 * *": {second} {minute} {hour} {day} {month} {day-of-week}, in UTC unless WEBSITE_TIME_ZONE is set. */
export const DEFAULT_NCRONTAB = '0 1 0 1 * *';

export interface RegisterResetTimerOptions extends EntryOptions {
  /** The function's name in the app. */
  readonly name?: string;
  readonly schedule?: string;
  /** The @azure/functions `app` to register on; default: the one this package resolves. */
  readonly app?: { timer(name: string, options: TimerFunctionOptions): void };
}

/** The timer handler: logs through the invocation context and throws on failure, so Functions records a failed run. */
export function createTimerHandler(opts: EntryOptions = {}) {
  return async (timer: Timer, context: InvocationContext): Promise<void> => {
    if (timer.isPastDue)
      context.warn(
        'the timer is past due (the app was down at the scheduled time); running now, and the reset catches up every ended period',
      );
    try {
      const summary = await runEntryReset('azure', opts);
      context.log(
        summary.closed.length
          ? `quotaclock reset closed ${summary.closed.map((p) => `${p.key} (${p.subjects} subjects)`).join(', ')}`
          : `quotaclock reset: nothing to close${summary.outcome === 'lease_held' ? ' here (another run holds the lease)' : ''}`,
      );
    } catch (e) {
      context.error(`quotaclock reset failed: ${(e as Error).message}`);
      throw e;
    }
  };
}

/**
 * Registers the reset as a timer function (Azure Functions Node.js v4
 * programming model). Failed runs are retried 3 times, 5 minutes apart.
 */
export function registerResetTimer(opts: RegisterResetTimerOptions = {}): void {
  (opts.app ?? functionsApp).timer(opts.name ?? 'quotaclockReset', {
    schedule: opts.schedule ?? DEFAULT_NCRONTAB,
    runOnStartup: false,
    useMonitor: true,
    retry: { strategy: 'fixedDelay', maxRetryCount: 3, delayInterval: { minutes: 5 } },
    handler: createTimerHandler(opts),
  });
}
