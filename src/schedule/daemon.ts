import { Cron } from 'croner';
import { asQuotaClockError, type ErrorCode } from '../core/errors.js';
import { canonicalTimeZone } from '../core/time-zone.js';
import { toIso } from '../core/period.js';
import { runScheduledReset } from '../jobs/reset-all.js';
import type { ResetReport } from '../jobs/reset-report.js';
import type { Logger } from '../log/logger.js';
import type { QuotaClock } from '../quotaclock.js';
import { systemClock, type DaemonClock } from './clock.js';
import { parseCron } from './cron-spec.js';

export const CATCH_UP_EVERY_MS = 3_600_000;
/** The longest single wait: a suspended or re-timed machine is noticed within a minute. */
const MAX_SLEEP_MS = 60_000;

/** Why a run started: the startup check, the cron schedule, the hourly check, or `daemon --once`. */
export type DaemonReason = 'start' | 'schedule' | 'catch-up' | 'once';

export interface DaemonRun {
  readonly reason: DaemonReason;
  /** Daemon clock time the run started. */
  readonly at: string;
  readonly ok: boolean;
  /** idle: a check found no ended period left open, so no reset ran. */
  readonly outcome: ResetReport['outcome'] | 'idle' | 'failed' | 'interrupted';
  /** Period keys this run closed. */
  readonly closed: readonly string[];
  readonly durationMs: number;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
}

export interface DaemonStatus {
  readonly state: 'created' | 'idle' | 'running' | 'stopping' | 'stopped';
  /** Healthy unless the last run failed (GET /healthz answers 503 then). */
  readonly healthy: boolean;
  readonly startedAt: string | null;
  readonly schedule: { readonly cron: string; readonly timeZone: string };
  readonly nextRun: string | null;
  readonly nextCatchUp: string | null;
  readonly lastRun: DaemonRun | null;
  readonly runs: number;
  readonly failures: number;
}

export interface ResetDaemonOptions {
  readonly quotaclock: QuotaClock;
  /** Default: the config's schedule. */
  readonly cron?: string;
  readonly timeZone?: string;
  /** Scheduling and business time; tests pass a ManualClock. */
  readonly clock?: DaemonClock;
  readonly catchUpEveryMs?: number;
  readonly logger?: Logger;
  readonly onRun?: (run: DaemonRun) => void;
}

/**
 * quotaclock's own scheduler, for hosts without cron. It checks for ended,
 * unclosed periods at start and every hour, and runs the reset on the
 * configured cron schedule (read by croner, in the configured zone). Every
 * run goes through runScheduledReset, so heartbeats and notifications apply,
 * and through the store's lease, so daemons on several hosts do the work once.
 */
export class ResetDaemon {
  private readonly qc: QuotaClock;
  private readonly clock: DaemonClock;
  private readonly cron: Cron;
  private readonly schedule: { cron: string; timeZone: string };
  private readonly catchUpEveryMs: number;
  private readonly abort = new AbortController();
  private state: DaemonStatus['state'] = 'created';
  private startedMs: number | null = null;
  private nextFireMs: number | null = null;
  private nextCatchUpMs: number | null = null;
  private lastRun: DaemonRun | null = null;
  private runs = 0;
  private failures = 0;
  private loopPromise: Promise<void> | null = null;

  constructor(private readonly opts: ResetDaemonOptions) {
    this.qc = opts.quotaclock;
    this.clock = opts.clock ?? systemClock;
    const configured = this.qc.config.schedule;
    const spec = parseCron(opts.cron ?? configured.cron, opts.cron ? '--cron' : 'schedule.cron');
    const timeZone = canonicalTimeZone(
      opts.timeZone ?? configured.timeZone,
      opts.timeZone ? '--time-zone' : 'schedule.timeZone',
    );
    this.schedule = { cron: spec.fields.join(' '), timeZone };
    this.cron = new Cron(spec.source, { timezone: timeZone, paused: true });
    this.catchUpEveryMs = opts.catchUpEveryMs ?? CATCH_UP_EVERY_MS;
  }

  /** Starts the loop: a catch-up check at once, then the schedule and the hourly check. */
  start(): this {
    if (this.loopPromise) return this;
    this.startedMs = this.clock.now();
    this.loopPromise = this.loop().finally(() => {
      this.state = 'stopped';
    });
    return this;
  }

  /** Resolves when the loop has ended (after stop()). */
  get done(): Promise<void> {
    return this.loopPromise ?? Promise.resolve();
  }

  /**
   * Graceful stop: no new run starts, a run in progress stops after the batch
   * it is committing, its lease is released, and this resolves.
   */
  async stop(): Promise<void> {
    if (this.state !== 'stopped') this.state = 'stopping';
    this.abort.abort();
    await this.done;
    this.state = 'stopped';
  }

  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  status(): DaemonStatus {
    return {
      state: this.state,
      healthy: this.state !== 'stopped' && (this.lastRun?.ok ?? true),
      startedAt: this.startedMs === null ? null : toIso(this.startedMs),
      schedule: this.schedule,
      nextRun: this.nextFireMs === null ? null : toIso(this.nextFireMs),
      nextCatchUp: this.nextCatchUpMs === null ? null : toIso(this.nextCatchUpMs),
      lastRun: this.lastRun,
      runs: this.runs,
      failures: this.failures,
    };
  }

  /** The next scheduled run strictly after `ms`, by croner in the schedule's zone. */
  nextRunAfter(ms: number): number | null {
    return this.cron.nextRun(new Date(ms))?.getTime() ?? null;
  }

  /**
   * Runs the reset only when some subject has an ended period still open,
   * so the hourly check is quiet (no notification, no heartbeat) when there
   * is nothing to do.
   */
  async catchUp(reason: DaemonReason): Promise<DaemonRun> {
    const started = this.clock.now();
    try {
      const pending = await (await this.qc.store()).pendingPeriods(started);
      if (pending.length === 0) {
        return this.record(
          {
            reason,
            at: toIso(started),
            ok: true,
            outcome: 'idle',
            closed: [],
            durationMs: this.clock.now() - started,
          },
          false,
        );
      }
      this.opts.logger?.info(
        { reason, pending: pending.map((p) => p.key) },
        'daemon: ended periods are open; catching up',
      );
    } catch (e) {
      return this.failed(reason, started, e);
    }
    return this.runReset(reason);
  }

  /** One reset through runScheduledReset, whatever is due. */
  async runReset(reason: DaemonReason): Promise<DaemonRun> {
    const started = this.clock.now();
    this.state = 'running';
    try {
      const report = await runScheduledReset(this.qc, {
        trigger: 'daemon',
        now: started,
        signal: this.abort.signal,
        ...(this.opts.logger ? { logger: this.opts.logger } : {}),
      });
      return this.record({
        reason,
        at: toIso(started),
        ok: true,
        outcome: report.outcome,
        closed: report.periods.map((p) => p.key),
        durationMs: this.clock.now() - started,
      });
    } catch (e) {
      return this.failed(reason, started, e);
    } finally {
      if (!this.stopping) this.state = 'idle';
    }
  }

  private failed(reason: DaemonReason, started: number, e: unknown): DaemonRun {
    const err = asQuotaClockError(e);
    const interrupted = (e as { interrupted?: boolean }).interrupted === true;
    this.opts.logger?.[interrupted ? 'warn' : 'error'](
      { reason, err: { code: err.code, message: err.message } },
      `daemon: ${err.message}`,
    );
    return this.record({
      reason,
      at: toIso(started),
      ok: interrupted,
      outcome: interrupted ? 'interrupted' : 'failed',
      closed: [],
      durationMs: this.clock.now() - started,
      error: { code: err.code, message: err.message },
    });
  }

  private record(run: DaemonRun, counted = true): DaemonRun {
    if (counted) {
      this.runs += 1;
      if (!run.ok) this.failures += 1;
    }
    // An idle check counts as healthy: it found every ended period closed.
    this.lastRun = run;
    this.opts.onRun?.(run);
    return run;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    this.state = 'running';
    await this.catchUp('start');
    this.nextFireMs = this.nextRunAfter(this.clock.now());
    this.nextCatchUpMs = this.clock.now() + this.catchUpEveryMs;
    this.opts.logger?.info(
      { schedule: this.schedule, nextRun: this.status().nextRun },
      'daemon: started',
    );
    while (!signal.aborted) {
      const now = this.clock.now();
      if (this.nextFireMs !== null && now >= this.nextFireMs) {
        await this.runReset('schedule');
        this.nextFireMs = this.nextRunAfter(this.clock.now());
        this.nextCatchUpMs = this.clock.now() + this.catchUpEveryMs;
        continue;
      }
      if (this.nextCatchUpMs !== null && now >= this.nextCatchUpMs) {
        await this.catchUp('catch-up');
        this.nextCatchUpMs = this.clock.now() + this.catchUpEveryMs;
        continue;
      }
      const wake = Math.min(
        this.nextFireMs ?? Number.POSITIVE_INFINITY,
        this.nextCatchUpMs ?? Number.POSITIVE_INFINITY,
      );
      this.state = 'idle';
      await this.clock.sleep(Math.min(wake - now, MAX_SLEEP_MS), signal);
    }
    this.opts.logger?.info({ runs: this.runs, failures: this.failures }, 'daemon: stopped');
  }
}
