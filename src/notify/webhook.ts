import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotifyEventType, NotifyTargetConfig } from '../config/notify-schema.js';
import { post } from './http.js';
import { renderWebhook } from './render.js';
import { loadSecret } from './secrets.js';
import { PermanentDeliveryError, type Notifier, type NotifyEvent } from './types.js';

type WebhookConfig = Extract<NotifyTargetConfig, { type: 'webhook' }>;

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The timestamp is
 * signed with the body, so a receiver can refuse replays older than a few minutes.
 */
export function signWebhook(secret: string, body: string, timestampSec: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex');
  return `t=${timestampSec},v1=${mac}`;
}

/** For receivers: checks the signature header against the raw body, and its age. */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  header: string | undefined | null,
  opts: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== 'string') return false;
  // The wall clock on purpose: the replay window compares two machines' real time.
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSec ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, body, t).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A generic JSON POST, signed so receivers can check it came from us. */
export class WebhookNotifier implements Notifier {
  readonly kind = 'webhook' as const;
  private url: string | undefined;
  private secret: string | undefined;
  private problem: Error | undefined;

  constructor(
    private readonly cfg: WebhookConfig,
    readonly label: string,
    where: string,
    private readonly defaults: readonly NotifyEventType[],
    private readonly timeoutMs: number,
    env: NodeJS.ProcessEnv,
  ) {
    try {
      this.url = loadSecret(cfg.url, `${where}.url`, env);
      this.secret = loadSecret(cfg.secret, `${where}.secret`, env);
    } catch (e) {
      this.problem = e as Error;
    }
  }

  accepts(type: NotifyEventType): boolean {
    if (type === 'report') return !this.cfg.events || this.cfg.events.includes('report');
    return (this.cfg.events ?? this.defaults).includes(type);
  }

  async send(event: NotifyEvent, attempt: { deliveryId: string; number: number }): Promise<void> {
    if (!this.url || !this.secret)
      throw new PermanentDeliveryError(this.problem?.message ?? 'webhook is not configured');
    const body = JSON.stringify(renderWebhook(event, attempt.deliveryId));
    // The wall clock on purpose: the receiver checks the signature's age against its real time.
    const t = Math.floor(Date.now() / 1000);
    await post(this.url, {
      body,
      timeoutMs: this.timeoutMs,
      label: this.label,
      headers: {
        [this.cfg.header]: signWebhook(this.secret, body, t),
        'X-Quotaclock-Event': event.type,
        // The same id on every retry of one delivery: receivers can drop duplicates.
        'X-Quotaclock-Delivery': attempt.deliveryId,
        'X-Quotaclock-Attempt': String(attempt.number),
      },
    });
  }
}
