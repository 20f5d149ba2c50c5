import { randomUUID } from 'node:crypto';
import type { NotifyConfig, NotifyEventType } from '../config/notify-schema.js';
import type { Logger } from '../log/logger.js';
import { redact, redactDeep } from '../log/redact.js';
import { EmailNotifier } from './email.js';
import { targetLabels } from './labels.js';
import { withRetries } from './retry.js';
import { SlackNotifier } from './slack.js';
import type { DeliveryResult, Notifier, NotifyEvent } from './types.js';
import { WebhookNotifier } from './webhook.js';

export interface NotificationsOptions {
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Called once per delivery that failed after its retries (metrics). */
  readonly onFailure?: (result: DeliveryResult) => void;
}

function buildNotifiers(cfg: NotifyConfig, env: NodeJS.ProcessEnv): Notifier[] {
  const labels = targetLabels(cfg);
  return cfg.targets.map((t, i) => {
    const label = labels[i]!;
    const where = `notify.targets.${i}`;
    switch (t.type) {
      case 'email':
        return new EmailNotifier(t, label, where, cfg.events, cfg.timeoutMs, env);
      case 'slack':
        return new SlackNotifier(t, label, where, cfg.events, cfg.timeoutMs, env);
      case 'webhook':
        return new WebhookNotifier(t, label, where, cfg.events, cfg.timeoutMs, env);
    }
  });
}

/** Event minus its binary attachments, scrubbed of every registered secret. */
function scrub(event: NotifyEvent): NotifyEvent {
  const { attachments, ...rest } = event;
  return { ...redactDeep(rest), ...(attachments ? { attachments } : {}) };
}

/**
 * Sends events to every target that wants them, all targets at once, each
 * with its own retries. `emit` never throws: a target that still fails is
 * logged and comes back as a failed DeliveryResult for the run summary.
 */
export class Notifications {
  readonly notifiers: readonly Notifier[];
  private readonly log: Logger | undefined;

  constructor(
    private readonly cfg: NotifyConfig,
    private readonly opts: NotificationsOptions = {},
  ) {
    this.notifiers = buildNotifiers(cfg, opts.env ?? process.env);
    this.log = opts.logger;
  }

  get configured(): boolean {
    return this.notifiers.length > 0;
  }

  wants(type: NotifyEventType): boolean {
    return this.notifiers.some((n) => n.accepts(type));
  }

  /** `all`: ignore event filters (`notify test`). */
  async emit(event: NotifyEvent, opts: { all?: boolean } = {}): Promise<DeliveryResult[]> {
    const targets = this.notifiers.filter((n) => opts.all || n.accepts(event.type));
    if (targets.length === 0) return [];
    const safe = scrub(event);
    return Promise.all(targets.map((n) => this.deliver(n, safe)));
  }

  private async deliver(n: Notifier, event: NotifyEvent): Promise<DeliveryResult> {
    const started = Date.now();
    const deliveryId = randomUUID();
    const result = await withRetries(
      this.cfg.retry,
      (number) => n.send(event, { deliveryId, number }),
      (attempt, e, delayMs) =>
        this.log?.warn(
          { target: n.label, event: event.type, attempt, delayMs },
          `notification to ${n.label} failed (attempt ${attempt}), retrying: ${redact((e as Error).message)}`,
        ),
    );
    const out: DeliveryResult = {
      target: n.label,
      kind: n.kind,
      event: event.type,
      ok: result.ok,
      attempts: result.attempts,
      durationMs: Date.now() - started,
      ...(result.ok
        ? {}
        : {
            error: redact(
              result.error instanceof Error ? result.error.message : String(result.error),
            ),
          }),
    };
    if (out.ok) {
      this.log?.info(
        { target: n.label, event: event.type, attempts: out.attempts },
        `notification sent to ${n.label}`,
      );
    } else {
      this.log?.error(
        { target: n.label, event: event.type, attempts: out.attempts },
        `notification to ${n.label} failed after ${out.attempts} attempt(s): ${out.error}`,
      );
      try {
        this.opts.onFailure?.(out);
      } catch {
        // Metrics must never break delivery reporting.
      }
    }
    return out;
  }
}
