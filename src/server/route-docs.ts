/**
 * What openapi.json says about each route. The schemas come from schemas.ts
 * (the ones that validate); a test checks that every route the server
 * registers is listed here and nothing else is.
 */
import type { z } from 'zod';
import type { Scope } from '../core/admin-types.js';
import { AuditQuery, PageQuery, ReportQuery, RunsQuery, SubjectsQuery } from './admin-schemas.js';
import { HistoryQuery } from './schemas.js';

export interface RouteDoc {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** OpenAPI form: /v1/subjects/{id}. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag?: string;
  readonly scope?: Scope;
  /** A request schema id under components.schemas. */
  readonly body?: string;
  readonly query?: z.ZodType;
  readonly idempotent?: boolean;
  readonly rateLimitHeaders?: boolean;
  readonly success: { status?: number; description: string; schema?: Record<string, unknown> };
  /** Statuses besides the ones every keyed or bodied route has. */
  readonly errors: Record<string, string>;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

export const QUOTA_ROUTES: readonly RouteDoc[] = [
  {
    method: 'POST',
    path: '/v1/consume',
    operationId: 'consume',
    summary: 'Take units of a feature (check and increment in one atomic step)',
    tag: 'quota',
    scope: 'quota:write',
    body: 'ConsumeRequest',
    idempotent: true,
    rateLimitHeaders: true,
    success: { description: 'The decision, granted or not.', schema: ref('ConsumeResponse') },
    errors: {
      '400': 'Bad input (BAD_INPUT, INVALID_AMOUNT, UNKNOWN_FEATURE); `where` names the field.',
      '404': 'Unknown subject when subjects are not created on first consume (SUBJECT_NOT_FOUND).',
      '409':
        'The same key is being answered right now (IDEMPOTENCY_KEY_IN_FLIGHT), with Retry-After.',
      '422': 'The key was used before with another body (IDEMPOTENCY_KEY_REUSED).',
    },
  },
  {
    method: 'POST',
    path: '/v1/check',
    operationId: 'check',
    summary: 'Would these units be granted now? Writes nothing',
    tag: 'quota',
    scope: 'quota:read',
    body: 'CheckRequest',
    rateLimitHeaders: true,
    success: { description: 'What a consume would answer.', schema: ref('CheckResponse') },
    errors: { '400': 'Bad input; `where` names the field.' },
  },
  {
    method: 'POST',
    path: '/v1/refund',
    operationId: 'refund',
    summary: 'Undo one consume by its key',
    tag: 'quota',
    scope: 'quota:write',
    body: 'RefundRequest',
    idempotent: true,
    success: {
      description: 'Units given back (0 when already refunded).',
      schema: ref('RefundResult'),
    },
    errors: { '404': 'No consume with this key for this subject (REFUND_KEY_NOT_FOUND).' },
  },
  {
    method: 'POST',
    path: '/v1/batch',
    operationId: 'batch',
    summary: 'Up to 100 consume, check or refund items, answered in order',
    tag: 'quota',
    scope: 'quota:write',
    body: 'BatchRequest',
    success: {
      description: 'One result per item; a bad item gets its own problem object.',
      schema: ref('BatchResponse'),
    },
    errors: { '400': 'Not a batch, or more than 100 items.' },
  },
  {
    method: 'GET',
    path: '/v1/subjects/{id}',
    operationId: 'status',
    summary: 'A subject’s current period, limits, usage and remaining units',
    tag: 'quota',
    scope: 'quota:read',
    success: { description: 'The status.', schema: ref('StatusResult') },
    errors: { '404': 'Unknown subject (SUBJECT_NOT_FOUND); reading never creates one.' },
  },
  {
    method: 'GET',
    path: '/v1/subjects/{id}/history',
    operationId: 'history',
    summary: 'Usage per period, newest first',
    tag: 'quota',
    scope: 'quota:read',
    query: HistoryQuery,
    success: {
      description: 'HistoryEntry[], newest first.',
      schema: { type: 'array', items: ref('HistoryEntry') },
    },
    errors: { '404': 'Unknown subject (SUBJECT_NOT_FOUND).' },
  },
];

export const OPS_ROUTES: readonly RouteDoc[] = [
  {
    method: 'GET',
    path: '/healthz',
    operationId: 'healthz',
    summary: 'Liveness (503 while shutting down, or when the scheduler’s last run failed)',
    tag: 'operations',
    success: {
      description: 'Alive.',
      schema: { type: 'object', properties: { status: { type: 'string' } } },
    },
    errors: { '503': 'Failing or shutting down.' },
  },
  {
    method: 'GET',
    path: '/readyz',
    operationId: 'readyz',
    summary: 'Readiness: the store answers',
    tag: 'operations',
    success: {
      description: 'Ready.',
      schema: { type: 'object', properties: { status: { type: 'string' } } },
    },
    errors: { '503': 'The store is down (STORE_UNAVAILABLE), with Retry-After.' },
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus text: job metrics and request-duration histograms by route and status',
    tag: 'operations',
    success: { description: 'text/plain; version=0.0.4' },
    errors: {},
  },
  {
    method: 'GET',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tag: 'operations',
    success: { description: 'OpenAPI 3.1.', schema: { type: 'object' } },
    errors: {},
  },
];

const admin = (
  method: RouteDoc['method'],
  path: string,
  operationId: string,
  summary: string,
  rest: Partial<RouteDoc> & Pick<RouteDoc, 'success'>,
): RouteDoc => ({
  method,
  path: `/v1/admin${path}`,
  operationId,
  summary,
  tag: 'admin',
  scope: method === 'GET' ? 'admin:read' : 'admin:write',
  errors: {},
  ...rest,
});
const notFound = { '404': 'Unknown subject (SUBJECT_NOT_FOUND).' };

export const ADMIN_ROUTES: readonly RouteDoc[] = [
  admin('GET', '/plans', 'listPlans', 'The plan catalog', {
    success: { description: 'Plans.', schema: { type: 'array', items: ref('Plan') } },
  }),
  admin('GET', '/subjects', 'listSubjects', 'Subjects, a keyset page (q: id or email prefix)', {
    query: SubjectsQuery,
    success: { description: 'A page.', schema: ref('SubjectPage') },
    errors: { '400': 'Bad query (an unknown plan, a bad limit).' },
  }),
  admin('POST', '/subjects', 'createSubject', 'Add a subject (audited)', {
    body: 'CreateSubjectRequest',
    success: { status: 201, description: 'The subject.', schema: ref('Subject') },
    errors: { '409': 'The subject exists (SUBJECT_EXISTS).' },
  }),
  admin('GET', '/subjects/{id}', 'getSubject', 'One subject', {
    success: { description: 'The subject.', schema: ref('Subject') },
    errors: notFound,
  }),
  admin(
    'PATCH',
    '/subjects/{id}',
    'updateSubject',
    'Set the plan, overrides, time zone, email or name (audited)',
    {
      body: 'PatchSubjectRequest',
      success: { description: 'The subject after the change.', schema: ref('Subject') },
      errors: notFound,
    },
  ),
  admin('POST', '/subjects/{id}/suspend', 'suspendSubject', 'Suspend: every consume is refused', {
    body: 'SuspendRequest',
    success: { description: 'The subject.', schema: ref('Subject') },
    errors: notFound,
  }),
  admin('POST', '/subjects/{id}/unsuspend', 'unsuspendSubject', 'Lift a suspension', {
    success: { description: 'The subject.', schema: ref('Subject') },
    errors: notFound,
  }),
  admin(
    'POST',
    '/subjects/{id}/reset',
    'resetSubject',
    'A manual mid-period reset with a reason (audited)',
    {
      body: 'ResetSubjectRequest',
      success: { description: 'Units cleared.', schema: ref('ResetSubjectResult') },
      errors: notFound,
    },
  ),
  admin(
    'GET',
    '/subjects/{id}/events',
    'subjectEvents',
    'The subject’s usage ledger, newest first',
    {
      query: PageQuery,
      success: { description: 'A page of events.', schema: ref('EventPage') },
      errors: notFound,
    },
  ),
  admin('GET', '/runs', 'listRuns', 'The run ledger, newest first', {
    query: RunsQuery,
    success: { description: 'Runs.', schema: { type: 'array', items: ref('Run') } },
  }),
  admin('GET', '/runs/{id}', 'getRun', 'One run, by period key', {
    success: { description: 'The run.', schema: ref('Run') },
    errors: { '404': 'No such run (NOT_FOUND).' },
  }),
  admin(
    'POST',
    '/reset',
    'close',
    'Close every ended period, with catch-up, under the CLI’s lease',
    {
      body: 'CloseRequest',
      success: {
        description: 'The reset report (as `quotaclock reset --json`).',
        schema: { type: 'object' },
      },
      errors: { '409': 'Another close holds the lease (LEASE_HELD).' },
    },
  ),
  admin('POST', '/verify', 'verify', 'Check invariants and configuration', {
    scope: 'admin:read',
    success: {
      description: 'The verify report (as `quotaclock verify --json`).',
      schema: { type: 'object' },
    },
  }),
  admin('GET', '/report', 'report', 'The usage report for a period', {
    query: ReportQuery,
    success: {
      description: 'The report (as `quotaclock report --json`).',
      schema: { type: 'object' },
    },
  }),
  admin('GET', '/audit', 'listAudit', 'The audit log, newest first', {
    query: AuditQuery,
    success: { description: 'A page of entries.', schema: ref('AuditPage') },
  }),
  admin('GET', '/keys', 'listKeys', 'API keys (never the key itself)', {
    success: { description: 'Keys.', schema: { type: 'array', items: ref('ApiKeyInfo') } },
  }),
  admin('POST', '/keys', 'createKey', 'Create a key; the answer shows it once', {
    body: 'CreateKeyRequest',
    success: { status: 201, description: 'The key.', schema: ref('NewApiKey') },
  }),
  admin(
    'DELETE',
    '/keys/{id}',
    'revokeKey',
    'Revoke a key (by id or prefix); it stops working at once',
    {
      success: { status: 204, description: 'Revoked.' },
      errors: { '404': 'No such key (NOT_FOUND).' },
    },
  ),
];

export const ROUTES: readonly RouteDoc[] = [...OPS_ROUTES, ...QUOTA_ROUTES, ...ADMIN_ROUTES];
