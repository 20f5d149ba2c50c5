/**
 * The request and response shapes of the HTTP API, as zod schemas. The
 * request schemas validate every body and query; the same schemas, response
 * ones included, generate openapi.json (openapi.ts), so the document cannot
 * say something the server does not do.
 */
import { z } from 'zod';
import { SCOPES } from '../core/admin-types.js';

/** Schemas that appear by name under components.schemas. */
export const requestRegistry = z.registry<{ id: string }>();
export const responseRegistry = z.registry<{ id: string }>();

const named = <T extends z.ZodType>(
  registry: typeof requestRegistry,
  id: string,
  schema: T,
  description: string,
): T => {
  const described = schema.describe(description) as T;
  registry.add(described, { id });
  return described;
};

// ---- building blocks -------------------------------------------------------

export const subjectId = z
  .string()
  .min(1)
  .max(200)
  .describe('A subject (user or organisation) id: 1-200 letters, digits or _.:@+- characters.');
export const featureName = z
  .string()
  .min(1)
  .max(100)
  .describe('A metered feature, e.g. stock_reports.');
export const amount = z
  .number()
  .int()
  .min(1)
  .max(Number.MAX_SAFE_INTEGER)
  .describe('Units, a whole number ≥ 1.');
export const idempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]+$/u, 'no control characters')
  .describe(
    'Idempotency key, scoped to the subject. May also be sent as the Idempotency-Key header; if both are sent they must be equal.',
  );
const meta = z
  .record(z.string(), z.unknown())
  .describe('Free JSON metadata stored with the event (ticker, report_id, …), at most 16 KiB.');
const limit = z.number().int().min(0).nullable().describe('null when unlimited.');
const iso = z.string().describe('ISO-8601 UTC instant.');

// ---- requests ----------------------------------------------------------------

export const ConsumeRequest = named(
  requestRegistry,
  'ConsumeRequest',
  z.strictObject({
    subject: subjectId,
    feature: featureName,
    amount: amount.default(1),
    key: idempotencyKey.optional(),
    meta: meta.optional(),
  }),
  'Take units of a feature, atomically.',
);

export const CheckRequest = named(
  requestRegistry,
  'CheckRequest',
  z.strictObject({ subject: subjectId, feature: featureName, amount: amount.default(1) }),
  'Would these units be granted now? Writes nothing.',
);

export const RefundRequest = named(
  requestRegistry,
  'RefundRequest',
  z.strictObject({
    subject: subjectId,
    key: idempotencyKey
      .optional()
      .describe('The key of the consume to undo (or send it as the Idempotency-Key header).'),
  }),
  'Undo one consume, in the period where it happened.',
);

export const BatchItem = named(
  requestRegistry,
  'BatchItem',
  z.discriminatedUnion('op', [
    ConsumeRequest.extend({ op: z.literal('consume') }),
    CheckRequest.extend({ op: z.literal('check') }),
    RefundRequest.extend({ op: z.literal('refund'), key: idempotencyKey }),
  ]),
  'One operation of a batch; each item stands alone and carries its own key.',
);

export const MAX_BATCH_ITEMS = 100;
export const BatchRequest = named(
  requestRegistry,
  'BatchRequest',
  z.strictObject({
    // Items are checked one by one (a bad item gets its own problem), so the envelope takes any values.
    items: z
      .array(z.unknown())
      .min(1)
      .max(MAX_BATCH_ITEMS)
      .meta({
        items: { $ref: '#/components/schemas/BatchItem' },
      }),
  }),
  `Up to ${MAX_BATCH_ITEMS} operations, answered in order.`,
);

export const HistoryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('At most this many periods.'),
});

export const SubjectParams = z.strictObject({ id: subjectId });

// ---- responses -----------------------------------------------------------------

export const Period = named(
  responseRegistry,
  'Period',
  z.object({ key: z.string(), start: iso, end: iso }),
  'A usage period: its key and its bounds, start inclusive, end exclusive.',
);

/** What every decision answer says about time besides its period (API.md: "the zone, and the seconds left"). */
const timeZone = z
  .string()
  .describe('The IANA zone the period was computed in: the subject’s own, or the period rule’s.');
const secondsLeft = z
  .number()
  .int()
  .min(0)
  .describe(
    'Whole seconds until the period ends, rounded up; the `t` of the RateLimit header. A replay carries the first answer’s value.',
  );

const reason = z
  .enum(['quota_exceeded', 'suspended'])
  .optional()
  .describe('Why the request was not granted; absent when granted.');

export const ConsumeResponse = named(
  responseRegistry,
  'ConsumeResponse',
  z.object({
    subject: subjectId,
    feature: featureName,
    granted: z.boolean(),
    used: z.number().int(),
    limit,
    remaining: z.number().int().nullable(),
    period: Period,
    timeZone,
    secondsLeft,
    reason,
    replayed: z
      .boolean()
      .optional()
      .describe('true on a replay: the body is the first answer to this key.'),
  }),
  'ConsumeResult plus the subject and the feature. Always 200, granted or not.',
);

export const CheckResponse = named(
  responseRegistry,
  'CheckResponse',
  z.object({
    allowed: z.boolean(),
    limit,
    used: z.number().int(),
    remaining: z.number().int().nullable(),
    reason,
    period: Period,
    timeZone,
    secondsLeft,
  }),
  'What a consume would answer now, without taking anything.',
);

export const RefundResponse = named(
  responseRegistry,
  'RefundResult',
  z.object({
    refunded: z.boolean(),
    amount: z.number().int(),
    used: z.number().int(),
    period: Period,
    timeZone,
    secondsLeft,
    alreadyRefunded: z.boolean().optional(),
  }),
  'The units given back.',
);

export const Problem = named(
  responseRegistry,
  'Problem',
  z.object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('One of the project’s stable error codes (ERROR_CODES).'),
    where: z.string().optional().describe('The field, header or parameter at fault.'),
  }),
  'RFC 9457 problem details.',
);

export const BatchResponse = named(
  responseRegistry,
  'BatchResponse',
  z.object({
    results: z.array(z.union([ConsumeResponse, CheckResponse, RefundResponse, Problem])),
  }),
  'One result per item, in order; a bad item gets its own problem object.',
);

const FeatureStatus = z.object({
  limit,
  used: z.number().int(),
  remaining: z.number().int().nullable(),
  unlimited: z.boolean(),
});

export const StatusResponse = named(
  responseRegistry,
  'StatusResult',
  z.object({
    subject: subjectId,
    plan: z.string(),
    suspended: z.boolean(),
    suspendedReason: z.string().nullable(),
    period: Period,
    timeZone,
    secondsLeft,
    features: z.record(z.string(), FeatureStatus),
  }),
  'The subject’s current period, limits, usage and remaining units.',
);

export const HistoryEntry = named(
  responseRegistry,
  'HistoryEntry',
  z.object({
    key: z.string(),
    start: iso,
    end: iso,
    closed: z.boolean(),
    plan: z.string().nullable(),
    features: z.record(z.string(), z.object({ limit, used: z.number().int() })),
  }),
  'Usage of one period.',
);

export const HistoryResponse = z.array(HistoryEntry).describe('Periods, newest first.');

export const Scope = z.enum(SCOPES);
