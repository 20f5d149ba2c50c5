/** Request and response shapes of /v1/admin (see schemas.ts for why they are zod). */
import { z } from 'zod';
import { AUDIT_ACTIONS, SCOPES } from '../core/admin-types.js';
import { featureName, requestRegistry, responseRegistry, subjectId } from './schemas.js';

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

const limit = z.number().int().min(0).nullable().describe('null when unlimited.');
const reason = z.string().min(1).max(500);
const pageLimit = z.coerce
  .number()
  .int()
  .min(1)
  .max(1000)
  .optional()
  .describe('Page size (default 100).');
const after = z.string().min(1).max(500).optional().describe('The `next` of the previous page.');
const iso = z.string().describe('ISO-8601 UTC instant.');

export const SubjectsQuery = z.strictObject({
  after,
  limit: pageLimit,
  plan: z.string().min(1).max(100).optional().describe('Only this plan.'),
  q: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('A prefix of the id or of the email (indexed).'),
});

export const PageQuery = z.strictObject({ after, limit: pageLimit });

export const AuditQuery = z.strictObject({
  after,
  limit: pageLimit,
  actor: z.string().min(1).max(100).optional(),
  subject: subjectId.optional(),
});

export const RunsQuery = z.strictObject({ limit: pageLimit });
export const ReportQuery = z.strictObject({
  period: z
    .string()
    .min(1)
    .max(40)
    .optional()
    .describe('A period key such as 2026-11; default: the current one.'),
});

export const CreateSubjectRequest = named(
  requestRegistry,
  'CreateSubjectRequest',
  z.strictObject({
    id: subjectId,
    plan: z.string().min(1).max(100).optional(),
    timeZone: z.string().min(1).max(100).nullable().optional(),
    email: z.string().max(320).nullable().optional(),
    name: z.string().max(200).nullable().optional(),
    anchor: iso.optional().describe('The instant anniversary periods count from.'),
  }),
  'A new subject.',
);

export const PatchSubjectRequest = named(
  requestRegistry,
  'PatchSubjectRequest',
  z.strictObject({
    plan: z.string().min(1).max(100).optional(),
    overrides: z
      .record(featureName, z.union([limit, z.literal('plan')]))
      .optional()
      .describe(
        'Per-feature limit overrides: a number, null for unlimited, "plan" to remove the override.',
      ),
    timeZone: z.string().min(1).max(100).nullable().optional(),
    email: z.string().max(320).nullable().optional(),
    name: z.string().max(200).nullable().optional(),
    reason: reason.optional().describe('Why; kept in the audit log.'),
  }),
  'Changes to a subject; each changed field is one audit entry.',
);

export const SuspendRequest = named(
  requestRegistry,
  'SuspendRequest',
  z.strictObject({ reason: reason.optional() }),
  'Why the subject is suspended.',
);

export const ResetSubjectRequest = named(
  requestRegistry,
  'ResetSubjectRequest',
  z.strictObject({ reason, dryRun: z.boolean().default(false) }),
  'A manual mid-period reset; the reason is required and audited.',
);

export const CloseRequest = named(
  requestRegistry,
  'CloseRequest',
  z.strictObject({ dryRun: z.boolean().default(false) }),
  'Close every ended period (with catch-up), under the same lease as the CLI.',
);

export const CreateKeyRequest = named(
  requestRegistry,
  'CreateKeyRequest',
  z.strictObject({
    name: z.string().min(1).max(100),
    scopes: z.array(z.enum(SCOPES)).min(1).max(4),
  }),
  'A new API key.',
);

// ---- responses ----

export const Subject = named(
  responseRegistry,
  'Subject',
  z.object({
    id: subjectId,
    plan: z.string(),
    overrides: z.record(z.string(), limit),
    suspended: z.boolean(),
    suspendedReason: z.string().nullable(),
    timeZone: z.string().nullable(),
    anchor: iso,
    email: z.string().nullable(),
    name: z.string().nullable(),
    createdAt: iso,
  }),
  'A subject.',
);

export const SubjectPage = named(
  responseRegistry,
  'SubjectPage',
  z.object({ items: z.array(Subject), next: z.string().nullable() }),
  'A keyset page; pass `next` back as `after`.',
);

const UsageEvent = named(
  responseRegistry,
  'UsageEvent',
  z.object({
    id: z.string(),
    at: iso,
    subject: subjectId,
    feature: z.string(),
    kind: z.enum(['consume', 'refund', 'reset']),
    amount: z.number().int(),
    periodKey: z.string(),
    key: z.string().nullable(),
    meta: z.record(z.string(), z.unknown()),
    granted: z
      .boolean()
      .optional()
      .describe('Consumes only: false for a denied consume, which counts nothing.'),
  }),
  'One entry of the usage ledger.',
);

export const EventPage = named(
  responseRegistry,
  'EventPage',
  z.object({ items: z.array(UsageEvent), next: z.string().nullable() }),
  'Events, newest first.',
);

const AuditEntry = named(
  responseRegistry,
  'AuditEntry',
  z.object({
    id: z.string(),
    at: iso,
    actor: z.string().describe('The key’s name, or "cli".'),
    action: z.enum(AUDIT_ACTIONS),
    subject: z.string().optional(),
    before: z.unknown(),
    after: z.unknown(),
    reason: z.string().optional(),
  }),
  'One admin write.',
);

export const AuditPage = named(
  responseRegistry,
  'AuditPage',
  z.object({ items: z.array(AuditEntry), next: z.string().nullable() }),
  'Audit entries, newest first.',
);

export const ApiKeyInfo = named(
  responseRegistry,
  'ApiKeyInfo',
  z.object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    prefix: z.string(),
    createdAt: iso,
    revokedAt: iso.nullable(),
    lastUsedAt: iso.nullable().optional(),
  }),
  'An API key, without its secret.',
);

export const NewApiKey = named(
  responseRegistry,
  'NewApiKey',
  ApiKeyInfo.extend({ key: z.string().describe('The key itself; shown this once.') }),
  'A created key.',
);

export const Plan = named(
  responseRegistry,
  'Plan',
  z.object({ name: z.string(), limits: z.record(z.string(), limit) }),
  'A plan and its limits.',
);

export const Run = named(
  responseRegistry,
  'Run',
  z.object({ key: z.string() }).catchall(z.unknown()),
  'One entry of the run ledger (one period key).',
);

export const ResetSubjectResult = named(
  responseRegistry,
  'ResetSubjectResult',
  z.object({
    subject: subjectId,
    period: z.object({ key: z.string(), start: iso, end: iso }),
    cleared: z.record(z.string(), z.number().int()),
    skipped: z.boolean().optional(),
  }),
  'Units cleared per feature.',
);

export const JsonObject = z.object({}).catchall(z.unknown());
