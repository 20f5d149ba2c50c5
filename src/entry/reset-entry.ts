import type { QuotaClockConfigInput } from '../config/schema.js';
import { asQuotaClockError, QuotaClockError } from '../core/errors.js';
import { resetAllUserQuotas, type ResetTrigger } from '../jobs/reset-all.js';
import type { ResetReport } from '../jobs/reset-report.js';
import { createLogger, flushLogger, type Logger } from '../log/logger.js';
import { redact, redactDeep } from '../log/redact.js';
import { loadConfig } from '../config/load.js';
import { parseConfig } from '../config/parse.js';
import { notifyObservers } from '../notify/thresholds.js';
import { createQuotaClock, type QuotaClock } from '../quotaclock.js';

/** What every cloud entry accepts; by default the config comes from the environment (QUOTACLOCK_CONFIG, QUOTACLOCK_DB). */
export interface EntryOptions {
  readonly quotaclock?: QuotaClock;
  readonly config?: QuotaClockConfigInput;
  readonly logger?: Logger;
}

/** The part of a report a platform shows: small, JSON, no secrets. */
export interface ResetSummary {
  readonly ok: true;
  readonly trigger: ResetTrigger;
  readonly dryRun: boolean;
  readonly outcome: ResetReport['outcome'];
  readonly closed: ReadonlyArray<{
    readonly key: string;
    readonly status: string;
    readonly subjects: number;
    readonly used: number;
  }>;
  readonly alreadyClosed: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
}

export function summarize(trigger: ResetTrigger, r: ResetReport): ResetSummary {
  return redactDeep({
    ok: true as const,
    trigger,
    dryRun: r.dryRun,
    outcome: r.outcome,
    closed: r.periods.map((p) => ({
      key: p.key,
      status: p.status,
      subjects: p.subjects,
      used: p.used,
    })),
    alreadyClosed: r.alreadyClosed,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
  });
}

/** The error a platform sees: same code and status, message scrubbed of secrets. */
export function publicError(e: unknown): QuotaClockError {
  const err = asQuotaClockError(e);
  const out = new QuotaClockError(err.code, redact(err.message), {
    ...(err.where ? { where: err.where } : {}),
    details: err.details.map(redact),
  });
  out.name = err.name;
  return out;
}

/**
 * One reset for a cloud trigger: through resetAllUserQuotas (so through
 * runScheduledReset, its lease, heartbeats and notifications), logging JSON
 * lines to stderr, which every platform collects. Throws on failure.
 */
export async function runEntryReset(
  trigger: ResetTrigger,
  opts: EntryOptions,
  run: { dryRun?: boolean } = {},
): Promise<ResetSummary> {
  const logger = opts.logger ?? createLogger({ level: process.env.QUOTACLOCK_LOG_LEVEL ?? 'info' });
  let own: QuotaClock | undefined;
  try {
    // The process is put together here: the service with notify's observers.
    const qc = opts.quotaclock ?? (own = assemble(opts, logger));
    const report = await resetAllUserQuotas({
      trigger,
      logger,
      dryRun: run.dryRun === true,
      quotaclock: qc,
    });
    return summarize(trigger, report);
  } catch (e) {
    const err = publicError(e);
    logger.error({ trigger, code: err.code }, `reset failed: ${err.message}`);
    throw err;
  } finally {
    await own?.close();
    if (!opts.logger) await flushLogger(logger);
  }
}

function assemble(opts: EntryOptions, logger: Logger): QuotaClock {
  const config = opts.config ? parseConfig(opts.config) : loadConfig().config;
  return createQuotaClock({ config, observers: notifyObservers(config, logger) });
}

/** Reads a dry-run request from an event payload: {"dryRun": true}. */
export function wantsDryRun(payload: unknown): boolean {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    (payload as { dryRun?: unknown }).dryRun === true
  );
}
