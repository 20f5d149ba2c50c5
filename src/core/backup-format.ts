import { z } from 'zod';

export const BACKUP_FORMAT = 'quotaclock-backup';
export const BACKUP_VERSION = 1;

const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO-8601 instant');
const isoOrNull = iso.nullable();
const limit = z.number().int().min(0).nullable();
const json = z.unknown();

/** One schema per record type: restore validates every line before it writes anything. */
export const recordSchemas = {
  subject: z.object({
    type: z.literal('subject'),
    id: z.string().min(1),
    plan: z.string().min(1),
    overrides: z.record(z.string(), limit),
    suspended: z.boolean(),
    suspendedReason: z.string().nullable(),
    timeZone: z.string().nullable(),
    anchor: iso,
    email: z.string().nullable(),
    name: z.string().nullable(),
    createdAt: iso,
    closedThrough: iso,
    openEnd: iso,
    openKey: z.string().min(1),
  }),
  counter: z.object({
    type: z.literal('counter'),
    subject: z.string(),
    feature: z.string(),
    periodStart: iso,
    periodEnd: iso,
    periodKey: z.string(),
    used: z.number().int().min(0),
  }),
  event: z.object({
    type: z.literal('event'),
    subject: z.string(),
    kind: z.enum(['consume', 'refund', 'reset']),
    feature: z.string(),
    periodStart: iso,
    periodEnd: iso,
    at: iso,
    amount: z.number().int(),
    delta: z.number().int(),
    usedAfter: z.number().int(),
    limit,
    key: z.string().nullable(),
    outcome: json,
    meta: json,
  }),
  closed_period: z.object({
    type: z.literal('closed_period'),
    subject: z.string(),
    start: iso,
    end: iso,
    key: z.string(),
    plan: z.string(),
    limits: z.record(z.string(), limit),
    closedAt: iso,
  }),
  run: z.object({
    type: z.literal('run'),
    key: z.string(),
    status: z.enum(['running', 'closed', 'partial', 'failed']),
    startedAt: iso,
    finishedAt: isoOrNull,
    attempts: z.number().int().min(0),
    holder: z.string().nullable(),
    periodStart: isoOrNull,
    periodEnd: isoOrNull,
    checkpoint: z.object({
      cursor: z.string().nullable(),
      subjects: z.number(),
      summary: z.record(z.string(), z.unknown()),
    }),
    error: z.string().nullable(),
  }),
  audit: z.object({
    type: z.literal('audit'),
    at: iso,
    action: z.string(),
    subject: z.string().nullable(),
    detail: json,
    // Since the service's audit log; older backups lack them (actor reads as cli).
    actor: z.string().min(1).optional(),
    before: json.optional(),
    after: json.optional(),
    reason: z.string().nullable().optional(),
  }),
} as const;

export const headerSchema = z.object({
  type: z.literal('header'),
  format: z.literal(BACKUP_FORMAT),
  version: z.number().int(),
  createdAt: iso,
  engine: z.string(),
  plans: z.unknown(),
  period: z.unknown(),
});

export const footerSchema = z.object({
  type: z.literal('footer'),
  records: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
