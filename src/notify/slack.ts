import type { NotifyEventType, NotifyTargetConfig } from '../config/notify-schema.js';
import { post } from './http.js';
import { renderSlack } from './render.js';
import { loadSecret } from './secrets.js';
import { PermanentDeliveryError, type Notifier, type NotifyEvent } from './types.js';

type SlackConfig = Extract<NotifyTargetConfig, { type: 'slack' }>;

/** A Slack incoming webhook: one Block Kit message per event. */
export class SlackNotifier implements Notifier {
  readonly kind = 'slack' as const;
  private url: string | undefined;
  private problem: Error | undefined;

  constructor(
    private readonly cfg: SlackConfig,
    readonly label: string,
    where: string,
    private readonly defaults: readonly NotifyEventType[],
    private readonly timeoutMs: number,
    env: NodeJS.ProcessEnv,
  ) {
    try {
      this.url = loadSecret(cfg.url, `${where}.url`, env);
    } catch (e) {
      this.problem = e as Error;
    }
  }

  accepts(type: NotifyEventType): boolean {
    if (type === 'report') return !this.cfg.events || this.cfg.events.includes('report');
    return (this.cfg.events ?? this.defaults).includes(type);
  }

  async send(event: NotifyEvent): Promise<void> {
    if (!this.url) throw new PermanentDeliveryError(this.problem?.message ?? 'no webhook URL');
    await post(this.url, {
      body: JSON.stringify(renderSlack(event)),
      timeoutMs: this.timeoutMs,
      label: this.label,
    });
  }
}
