import type { HeartbeatConfig } from '../config/notify-schema.js';
import type { Logger } from '../log/logger.js';
import { redact } from '../log/redact.js';
import { post } from './http.js';
import { withRetries } from './retry.js';
import { loadSecret } from './secrets.js';
import type { DeliveryResult } from './types.js';

export type HeartbeatKind = 'start' | 'success' | 'failure';

/**
 * Dead man's switch pings in the healthchecks.io style: `start` when a run
 * begins, `success` or `failure` when it ends. If the success ping does not
 * arrive on schedule, the monitoring service raises the alarm, which catches
 * the one failure a notifier cannot report: the job never running at all.
 *
 * Shared by the reset (runScheduledReset) and the scheduler; a ping never
 * throws and never holds a run up for longer than its timeout × attempts.
 */
export class Heartbeat {
  private readonly urls: Partial<Record<HeartbeatKind, string>> = {};
  private readonly problems: string[] = [];

  constructor(
    private readonly cfg: HeartbeatConfig,
    env: NodeJS.ProcessEnv = process.env,
    private readonly logger?: Logger,
  ) {
    const where = 'notify.heartbeat';
    const load = (kind: HeartbeatKind, ref: HeartbeatConfig['start'], sub: string) => {
      if (!ref) return;
      try {
        this.urls[kind] = loadSecret(ref, `${where}.${sub}`, env);
      } catch (e) {
        this.problems.push((e as Error).message);
      }
    };
    const baseRef =
      cfg.url ??
      (cfg.start || cfg.success || cfg.failure ? undefined : { env: 'QUOTACLOCK_HEARTBEAT_URL' });
    if (baseRef) {
      try {
        const base = loadSecret(baseRef, `${where}.url`, env).replace(/\/+$/, '');
        this.urls.start = `${base}/start`;
        this.urls.success = base;
        this.urls.failure = `${base}/fail`;
      } catch (e) {
        this.problems.push((e as Error).message);
      }
    }
    load('start', cfg.start, 'start');
    load('success', cfg.success, 'success');
    load('failure', cfg.failure, 'failure');
  }

  /** Whether any ping URL is set. */
  get configured(): boolean {
    return Object.keys(this.urls).length > 0 || this.problems.length > 0;
  }

  /** Sends one ping; the body (a short run summary) is redacted first. Resolves null when that kind has no URL. */
  async ping(kind: HeartbeatKind, body = ''): Promise<DeliveryResult | null> {
    const label = `heartbeat:${kind}`;
    const url = this.urls[kind];
    const started = Date.now();
    if (!url) {
      if (this.problems.length === 0) return null;
      const error = redact(this.problems.join('; '));
      this.logger?.error(
        { target: label, event: `heartbeat.${kind}` },
        `heartbeat ${kind} ping not sent: ${error}`,
      );
      return {
        target: label,
        kind: 'heartbeat',
        event: `heartbeat.${kind}`,
        ok: false,
        attempts: 0,
        durationMs: 0,
        error,
      };
    }
    const result = await withRetries(
      { attempts: this.cfg.attempts, initialDelayMs: 500, maxDelayMs: 5000 },
      () =>
        post(url, {
          body: redact(body).slice(0, 90_000),
          contentType: 'text/plain; charset=utf-8',
          timeoutMs: this.cfg.timeoutMs,
          label,
          ...(this.logger ? { log: this.logger } : {}),
        }),
      (attempt, e, delay) =>
        this.logger?.warn(
          { target: label, attempt, delayMs: delay },
          `heartbeat ${kind} ping failed, retrying: ${redact((e as Error).message)}`,
        ),
    );
    const out: DeliveryResult = {
      target: label,
      kind: 'heartbeat',
      event: `heartbeat.${kind}`,
      ok: result.ok,
      attempts: result.attempts,
      durationMs: Date.now() - started,
      ...(result.ok ? {} : { error: redact((result.error as Error).message) }),
    };
    if (out.ok) this.logger?.debug({ target: label }, `heartbeat ${kind} ping sent`);
    else
      this.logger?.error(
        { target: label, attempts: out.attempts },
        `heartbeat ${kind} ping failed after ${out.attempts} attempt(s): ${out.error}`,
      );
    return out;
  }
}

/** The configured heartbeat, or one from env QUOTACLOCK_HEARTBEAT_URL, or null. */
export function createHeartbeat(
  cfg: HeartbeatConfig | null,
  env: NodeJS.ProcessEnv = process.env,
  logger?: Logger,
): Heartbeat | null {
  if (!cfg && !env.QUOTACLOCK_HEARTBEAT_URL) return null;
  const hb = new Heartbeat(cfg ?? { timeoutMs: 5000, attempts: 3 }, env, logger);
  return hb.configured ? hb : null;
}
