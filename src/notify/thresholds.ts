import type { QuotaClockConfig } from '../config/schema.js';
import type { ConsumeResult } from '../core/types.js';
import type { Logger } from '../log/logger.js';
import type { ConsumeEvent, ObserverContext, QuotaObserver } from '../observers.js';
import type { QuotaStore } from '../store/quota-store.js';
import type { Notifications } from './dispatcher.js';

/** Whether any target wants quota.threshold events: otherwise consume pays nothing at all. */
export function thresholdsWanted(config: QuotaClockConfig): boolean {
  const n = config.notify;
  return (
    n.thresholds.length > 0 &&
    n.targets.some((t) => (t.events ?? n.events).includes('quota.threshold'))
  );
}

/**
 * Watches granted consumes for a subject crossing a threshold (80% and 100%
 * of a limit by default). The check on the hot path is arithmetic on the
 * consume result; only a crossing touches the store, to claim the notice
 * (at most once per subject, feature, period and threshold, durable across
 * processes), and the delivery runs in the background. `drain` waits for
 * deliveries still in flight (QuotaClock.close calls it).
 */
export class ThresholdWatcher implements QuotaObserver {
  private readonly thresholds: readonly number[];
  private readonly pending = new Set<Promise<void>>();
  private notifications: Promise<Notifications> | undefined;
  private logger: Promise<Logger> | undefined;

  private constructor(
    private readonly config: QuotaClockConfig,
    private readonly givenLogger: Logger | undefined,
    /** Business time (the service's clock, `--now`): when a notice is claimed and what its message says. */
    private readonly clock: () => number,
  ) {
    this.thresholds = config.notify.thresholds;
  }

  static create(
    config: QuotaClockConfig,
    logger?: Logger,
    clock: () => number = Date.now,
  ): ThresholdWatcher | null {
    return thresholdsWanted(config) ? new ThresholdWatcher(config, logger, clock) : null;
  }

  /** Thresholds (percent) that `amount` took the counter across, lowest first. */
  crossed(amount: number, r: ConsumeResult): number[] {
    if (!r.granted || r.replayed || r.limit === null || r.limit <= 0) return [];
    const before = r.used - amount;
    const out: number[] = [];
    for (const t of this.thresholds) {
      const mark = Math.ceil((r.limit * t) / 100);
      if (before < mark && r.used >= mark) out.push(t);
    }
    return out;
  }

  onConsume({ subject, feature, amount, result: r }: ConsumeEvent, ctx: ObserverContext): void {
    const crossed = this.crossed(amount, r);
    if (crossed.length === 0) return;
    const job = this.fire(() => ctx.store(), subject, feature, r, crossed).catch(
      async (e: unknown) => {
        (await this.log()).error(
          { subject, feature, err: (e as Error).message },
          `threshold notification failed: ${(e as Error).message}`,
        );
      },
    );
    this.pending.add(job);
    void job.finally(() => this.pending.delete(job));
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private log(): Promise<Logger> {
    this.logger ??= this.givenLogger
      ? Promise.resolve(this.givenLogger)
      : import('../log/logger.js').then(({ createLogger }) =>
          createLogger({ level: this.config.log.level }),
        );
    return this.logger;
  }

  private async fire(
    openStore: () => Promise<QuotaStore>,
    subject: string,
    feature: string,
    r: ConsumeResult,
    crossed: number[],
  ): Promise<void> {
    const store = await openStore();
    const startMs = Date.parse(r.period.start);
    const endMs = Date.parse(r.period.end);
    const nowMs = this.clock();
    const fresh: number[] = [];
    for (const threshold of crossed) {
      const notice = { subject, feature, periodStartMs: startMs, periodEndMs: endMs, threshold };
      const first = await store.claimThresholdNotice(notice, nowMs);
      if (first) fresh.push(threshold);
    }
    if (fresh.length === 0) return;
    // One message for the highest threshold crossed; the lower ones are claimed so they never fire late.
    const threshold = Math.max(...fresh);
    const logger = await this.log();
    const [{ Notifications }, { thresholdEvent, messageContext }, { failureSamples }] =
      await Promise.all([
        import('./dispatcher.js'),
        import('./messages.js'),
        import('./reset-monitor.js'),
      ]);
    this.notifications ??= Promise.resolve(new Notifications(this.config.notify, { logger }));
    const notifications = await this.notifications;
    const plan =
      (
        await store.getSubject(subject).catch((e: unknown) => {
          // Safe to drop: the plan is only a label in the message, which goes out without it.
          logger.debug({ err: e, subject }, 'could not read the plan for a threshold message');
          return null;
        })
      )?.plan ?? null;
    const event = thresholdEvent(
      { subject, plan, feature, used: r.used, limit: r.limit!, threshold, period: r.period },
      { ...messageContext(this.config, { logger }), nowMs },
    );
    logger.info(
      { subject, feature, threshold, used: r.used, limit: r.limit, period: r.period.key },
      `${subject} crossed ${threshold}% of ${feature}`,
    );
    const results = await notifications.emit(event);
    const failed = failureSamples(results);
    if (failed.length === 0) return;
    // Metrics are stamped on the wall clock, not `--now`: they say when this process
    // did something, which is what a scrape's staleness alert compares with.
    await store.recordJobMetrics(failed, Date.now()).catch((e: unknown) => {
      // Safe to drop: the failed delivery is already in the log above; only the counter is lost.
      logger.debug({ err: e }, 'could not record notifier failure metrics');
    });
  }
}

/** The observers notify contributes to a process: the threshold watcher, when a target wants it. */
export function notifyObservers(
  config: QuotaClockConfig,
  logger?: Logger,
  /** The clock given to createQuotaClock, so messages follow `--now`; default the wall clock. */
  clock?: () => number,
): QuotaObserver[] {
  const watcher = ThresholdWatcher.create(config, logger, clock);
  return watcher ? [watcher] : [];
}
