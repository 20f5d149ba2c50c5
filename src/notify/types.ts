import type { NotifyEventType } from '../config/notify-schema.js';

export type { NotifyEventType };

export type Severity = 'ok' | 'warning' | 'error';

export interface EventField {
  readonly label: string;
  readonly value: string;
  /** Shown side by side in Slack. */
  readonly short?: boolean;
}

export interface EmailAttachment {
  readonly filename: string;
  readonly contentType: string;
  readonly content: Buffer;
  /** Content-ID for inline images: the HTML refers to it as cid:<cid>. */
  readonly cid?: string;
}

/**
 * One thing that happened, in a form every notifier can render. Builders in
 * messages.ts fill in what happened, the counts, the duration, the period,
 * the host and where the log is.
 */
export interface NotifyEvent {
  readonly type: NotifyEventType;
  readonly severity: Severity;
  /** One line: the email subject, the Slack header. */
  readonly title: string;
  /** Paragraphs of plain text. */
  readonly lines: readonly string[];
  readonly fields: readonly EventField[];
  readonly host: string;
  readonly log: string;
  readonly at: string;
  readonly period?: string;
  readonly durationMs?: number;
  readonly counts?: Readonly<Record<string, number>>;
  /** Machine-readable detail for the webhook payload (a report, a reset summary). */
  readonly data?: unknown;
  /** A full HTML body for email (reports); otherwise one is rendered from the fields. */
  readonly html?: string;
  readonly attachments?: readonly EmailAttachment[];
}

export type TargetKind = 'email' | 'slack' | 'webhook' | 'heartbeat';

/** The outcome of one delivery to one target, after its retries. */
export interface DeliveryResult {
  /** A label without secrets: "email:ops", "slack", "webhook#2 (hooks.example.com)". */
  readonly target: string;
  readonly kind: TargetKind;
  readonly event: string;
  readonly ok: boolean;
  readonly attempts: number;
  readonly durationMs: number;
  /** Redacted. */
  readonly error?: string;
}

/** A failure the retry loop should not repeat (a 4xx, a refused login). */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}

/** One configured destination. */
export interface Notifier {
  readonly label: string;
  readonly kind: TargetKind;
  accepts(type: NotifyEventType): boolean;
  /** One attempt; throws on failure (PermanentDeliveryError when retrying cannot help). */
  send(event: NotifyEvent, attempt: { deliveryId: string; number: number }): Promise<void>;
}
