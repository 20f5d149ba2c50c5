import type { z as Zod } from 'zod';

/** Every event a notifier can be sent. `report` and `test` are only sent on request. */
export const NOTIFY_EVENTS = [
  'reset.succeeded',
  'reset.failed',
  'reset.partial',
  'reset.skipped_already_closed',
  'verify.failed',
  'quota.threshold',
  'report',
  'test',
] as const;

export type NotifyEventType = (typeof NOTIFY_EVENTS)[number];

/** On unless the config says otherwise; `reset.skipped_already_closed` is off by default. */
export const DEFAULT_NOTIFY_EVENTS: NotifyEventType[] = [
  'reset.succeeded',
  'reset.failed',
  'reset.partial',
  'verify.failed',
  'quota.threshold',
];

const INLINE_SECRET =
  'secrets must not be written inline in the config file; use {"env": "NAME"} or {"file": "/path/to/secret"}';

/**
 * The notify section's schema, built with the zod module given: config/schema.ts
 * loads zod only when a config is actually validated (zod costs most of a
 * cold `quotaclock status` otherwise).
 */
export function notifySchemasWith(z: typeof Zod) {
  const envName = z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' });

  /**
   * Where a secret comes from: an environment variable or a file (read at
   * send time, trimmed). A plain string is refused with a message that says
   * how to fix it, and the message never repeats the value.
   */
  const secretRef = z
    .custom<unknown>((v) => typeof v !== 'string', { error: INLINE_SECRET })
    .pipe(
      z
        .strictObject({ env: envName.optional(), file: z.string().min(1).optional() })
        .refine((v) => (v.env === undefined) !== (v.file === undefined), {
          error: 'expected exactly one of "env" or "file"',
        }),
    );

  const eventList = z.array(z.enum(NOTIFY_EVENTS));

  const targetBase = {
    /** A label for logs and summaries; defaults to the type and position. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected a short label (letters, digits, _ . -)' })
      .optional(),
    /** Only these events go to this target; defaults to notify.events. */
    events: eventList.optional(),
  };

  const emailTarget = z.strictObject({
    type: z.literal('email'),
    ...targetBase,
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    smtp: z
      .strictObject({
        /** smtp://user:pass@host:port; default: env SMTP_URL when no host is given. */
        url: secretRef.optional(),
        /** Default: env SMTP_HOST. */
        host: z.string().min(1).optional(),
        /** Default: env SMTP_PORT, else 587 (465 with security "tls"). */
        port: z.number().int().min(1).max(65535).optional(),
        /** Default: env SMTP_USER. */
        user: z.string().min(1).optional(),
        /** Default: env SMTP_PASSWORD (or SMTP_PASS). */
        password: secretRef.optional(),
        /** starttls: plain connect then STARTTLS, required. tls: TLS from the first byte (465). */
        security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
        /** A PEM file of extra CAs to trust (a private SMTP relay). */
        caFile: z.string().min(1).optional(),
      })
      .default({ security: 'starttls' }),
  });

  const slackTarget = z.strictObject({
    type: z.literal('slack'),
    ...targetBase,
    url: secretRef.default({ env: 'SLACK_WEBHOOK_URL' }),
  });

  const webhookTarget = z.strictObject({
    type: z.literal('webhook'),
    ...targetBase,
    url: secretRef.default({ env: 'QUOTACLOCK_WEBHOOK_URL' }),
    /** The HMAC-SHA256 key. */
    secret: secretRef.default({ env: 'QUOTACLOCK_WEBHOOK_SECRET' }),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/)
      .default('X-Quotaclock-Signature'),
  });

  const notifyTarget = z.discriminatedUnion('type', [emailTarget, slackTarget, webhookTarget]);

  const heartbeat = z.strictObject({
    /**
     * healthchecks.io style base URL: start = url/start, success = url,
     * failure = url/fail. Default: env QUOTACLOCK_HEARTBEAT_URL.
     */
    url: secretRef.optional(),
    /** Explicit URLs override the ones derived from `url`. */
    start: secretRef.optional(),
    success: secretRef.optional(),
    failure: secretRef.optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(5000),
    attempts: z.number().int().min(1).max(10).default(3),
  });

  const thresholds = z
    .array(z.number().int().min(1).max(1000))
    .max(10)
    .transform((list) => [...new Set(list)].sort((a, b) => a - b));

  const notifySchema = z.strictObject({
    targets: z.array(notifyTarget).default([]),
    events: eventList.default(DEFAULT_NOTIFY_EVENTS),
    /** Percentages of a limit; each fires at most once per subject, feature and period. */
    thresholds: thresholds.default([80, 100]),
    retry: z
      .strictObject({
        /** Total tries per delivery, the first included. */
        attempts: z.number().int().min(1).max(10).default(4),
        initialDelayMs: z.number().int().min(0).max(60_000).default(1000),
        maxDelayMs: z.number().int().min(0).max(600_000).default(30_000),
        /** A receiver's Retry-After is honoured beyond maxDelayMs, up to this. */
        maxRetryAfterMs: z.number().int().min(0).max(600_000).default(120_000),
      })
      .default({ attempts: 4, initialDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 }),
    /** Per attempt. */
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    heartbeat: heartbeat.nullable().default(null),
    /** What messages say about where the log is, when it is not a file (e.g. "journalctl -u quotaclock"). */
    logLocation: z.string().min(1).nullable().default(null),
  });
  return { notifySchema, notifyTarget, heartbeat, secretRef };
}

type Built = ReturnType<typeof notifySchemasWith>;

export type NotifyConfig = Zod.output<Built['notifySchema']>;
export type NotifyTargetConfig = Zod.output<Built['notifyTarget']>;
export type HeartbeatConfig = Zod.output<Built['heartbeat']>;
export type SecretRef = Zod.output<Built['secretRef']>;

export const DEFAULT_NOTIFY_CONFIG: Zod.input<Built['notifySchema']> = {};
