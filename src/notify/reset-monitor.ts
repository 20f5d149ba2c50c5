import type { ResetReport } from '../jobs/reset-report.js';
import { describeReset } from '../jobs/reset-report.js';
import type { Logger } from '../log/logger.js';
import type { QuotaClock } from '../quotaclock.js';
import type { JobMetricSample } from '../store/quota-store.js';
import { Notifications } from './dispatcher.js';
import { createHeartbeat, type Heartbeat } from './heartbeat.js';
import { messageContext, resetEvent, resetFailedEvent, type MessageContext } from './messages.js';
import type { DeliveryResult } from './types.js';

export interface MonitorOptions {
  readonly logger?: Logger;
  readonly trigger?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The reset's business time (`--now`), for message timestamps; default the service clock. */
  readonly now?: number;
}

/** Metric samples for notifier deliveries that failed after their retries. */
export function failureSamples(results: readonly DeliveryResult[]): JobMetricSample[] {
  return results
    .filter((r) => !r.ok)
    .map((r) => ({
      name: 'quotaclock_notifier_failures_total',
      labels: { kind: r.kind, target: r.target },
      value: 1,
      mode: 'add' as const,
    }));
}

/**
 * Wraps one scheduled reset: heartbeat start, then on the way out the event
 * for what happened, the success or failure ping, and the job metrics.
 * Nothing here can fail the reset: every delivery problem is logged and
 * returned in the report's `notifications`.
 */
export class ResetMonitor {
  private readonly deliveries: DeliveryResult[] = [];
  // Wall clock: it measures how long the run took. Metric timestamps below are wall clock
  // too (when this process acted, what a staleness alert compares with); messages say `--now`.
  private readonly startedMs = Date.now();
  private readonly log: Logger | undefined;

  private constructor(
    private readonly qc: QuotaClock,
    private readonly notifications: Notifications,
    private readonly heartbeat: Heartbeat | null,
    private readonly ctx: MessageContext,
    logger: Logger | undefined,
  ) {
    this.log = logger;
  }

  /** The reset's business time: its `now` if it was given one, else the service clock (`--now`). */
  private businessNow(): number {
    return this.ctx.nowMs ?? this.qc.now();
  }

  static async start(qc: QuotaClock, opts: MonitorOptions = {}): Promise<ResetMonitor> {
    const env = opts.env ?? process.env;
    const cfg = qc.config.notify;
    const notifications = new Notifications(cfg, {
      ...(opts.logger ? { logger: opts.logger } : {}),
      env,
    });
    const heartbeat = createHeartbeat(cfg.heartbeat, env, opts.logger);
    const ctx = messageContext(qc.config, {
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.trigger ? { trigger: opts.trigger } : {}),
    });
    const monitor = new ResetMonitor(
      qc,
      notifications,
      heartbeat,
      opts.now === undefined ? ctx : { ...ctx, nowMs: opts.now },
      opts.logger,
    );
    const ping = await heartbeat?.ping(
      'start',
      `quotaclock reset started on ${ctx.host}${opts.trigger ? ` (${opts.trigger})` : ''}`,
    );
    if (ping) monitor.deliveries.push(ping);
    return monitor;
  }

  /** After a run that returned: notify, ping, record; returns the report with `notifications`. */
  async succeeded(report: ResetReport): Promise<ResetReport> {
    const event = resetEvent(report, { ...this.ctx, nowMs: this.businessNow() });
    if (event) this.deliveries.push(...(await this.notifications.emit(event)));
    const ping = await this.heartbeat?.ping(
      'success',
      describeReset(report, this.qc.policy.catalog.planNames),
    );
    if (ping) this.deliveries.push(ping);
    const subjects = report.periods.reduce((s, p) => s + p.subjects, 0);
    const nowSec = Date.now() / 1000;
    const outcome =
      report.outcome === 'lease_held'
        ? 'lease_held'
        : (event?.type.replace('reset.', '') ?? 'succeeded');
    const ran = report.outcome === 'ok';
    await this.record([
      { name: 'quotaclock_reset_runs_total', labels: { outcome }, value: 1, mode: 'add' },
      // A run that found the lease held did no work: the holder's own figures stand.
      ...(ran
        ? [
            {
              name: 'quotaclock_reset_last_run_timestamp_seconds',
              value: nowSec,
              mode: 'set' as const,
            },
            {
              name: 'quotaclock_reset_last_run_duration_seconds',
              value: report.durationMs / 1000,
              mode: 'set' as const,
            },
            { name: 'quotaclock_reset_last_run_success', value: 1, mode: 'set' as const },
            {
              name: 'quotaclock_reset_last_run_subjects_closed',
              value: subjects,
              mode: 'set' as const,
            },
            {
              name: 'quotaclock_reset_subjects_closed_total',
              value: subjects,
              mode: 'add' as const,
            },
            {
              name: 'quotaclock_reset_last_completed_timestamp_seconds',
              value: nowSec,
              mode: 'set' as const,
            },
          ]
        : []),
      ...report.periods.map((p) => ({
        name: 'quotaclock_reset_last_success_timestamp_seconds',
        labels: { period: p.key },
        value: nowSec,
        mode: 'set' as const,
      })),
      ...failureSamples(this.deliveries),
    ]);
    return { ...report, notifications: [...this.deliveries] };
  }

  /** After a run that threw: the failure event, the failure ping, the metrics. Never throws. */
  async failed(error: unknown): Promise<DeliveryResult[]> {
    const durationMs = Date.now() - this.startedMs;
    const where = await this.failedRun(error);
    const event = resetFailedEvent(
      { error, durationMs, ...where },
      { ...this.ctx, nowMs: this.businessNow() },
    );
    this.deliveries.push(...(await this.notifications.emit(event)));
    const ping = await this.heartbeat?.ping('failure', `${event.title}\n${event.lines.join('\n')}`);
    if (ping) this.deliveries.push(ping);
    await this.record([
      { name: 'quotaclock_reset_runs_total', labels: { outcome: 'failed' }, value: 1, mode: 'add' },
      {
        name: 'quotaclock_reset_last_run_timestamp_seconds',
        value: Date.now() / 1000,
        mode: 'set',
      },
      { name: 'quotaclock_reset_last_run_duration_seconds', value: durationMs / 1000, mode: 'set' },
      { name: 'quotaclock_reset_last_run_success', value: 0, mode: 'set' },
      ...failureSamples(this.deliveries),
    ]);
    return [...this.deliveries];
  }

  /** The ledger row the failure was recorded in: its period and how far it got. */
  private async failedRun(error: unknown): Promise<{ period?: string; subjectsClosed?: number }> {
    try {
      const message = error instanceof Error ? error.message : String(error);
      const runs = await (await this.qc.store()).listRuns(10);
      const run = runs.find(
        (r) => r.status === 'failed' && r.error !== null && message.includes(r.error),
      );
      return run ? { period: run.key, subjectsClosed: run.checkpoint.subjects } : {};
    } catch {
      return {};
    }
  }

  private async record(samples: JobMetricSample[]): Promise<void> {
    try {
      const store = await this.qc.store();
      await store.recordJobMetrics(samples, Date.now());
    } catch (e) {
      this.log?.warn({ err: (e as Error).message }, 'could not record reset metrics');
    }
  }
}
