/**
 * The one place where anything thrown while answering a request becomes an
 * HTTP answer: an RFC 9457 problem whose status is ERROR_CODES[code].http.
 * Fastify's own errors (body too large, not JSON, malformed JSON, prototype
 * poisoning) are given the project's codes here too.
 */
import type { FastifyReply } from 'fastify';
import { ERROR_CODES, QuotaClockError, type ErrorCode } from '../core/errors.js';
import { redact } from '../log/redact.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** Seconds a client should wait before retrying when the store is down or a key is in flight. */
export const RETRY_AFTER_SECONDS = 1;

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly where?: string;
}

const TITLES: Partial<Record<ErrorCode, string>> = {
  BAD_INPUT: 'Bad input',
  INVALID_AMOUNT: 'Invalid amount',
  UNKNOWN_FEATURE: 'Unknown feature',
  UNKNOWN_PLAN: 'Unknown plan',
  UNAUTHENTICATED: 'Unauthenticated',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  SUBJECT_NOT_FOUND: 'Subject not found',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
  IDEMPOTENCY_KEY_IN_FLIGHT: 'Idempotency key in flight',
  RATE_LIMITED: 'Too many requests',
  STORE_UNAVAILABLE: 'Store unavailable',
  LEASE_HELD: 'Lease held',
  INTERNAL: 'Internal error',
};

const titleOf = (code: ErrorCode) =>
  TITLES[code] ??
  code
    .toLowerCase()
    .split('_')
    .map((w, i) => (i === 0 ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join(' ');

/** Fastify's error codes for request-shape failures, by what they mean to us. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_INPUT',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_INPUT',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_INPUT',
};

/** Node and driver errors that mean "the store cannot be reached now", not "the request is wrong". */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EPIPE|Connection terminated|connection timeout|SQLITE_BUSY|SQLITE_CANTOPEN|SQLITE_IOERR|UNAVAILABLE|DEADLINE_EXCEEDED|the database system is (starting up|shutting down)/i;

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  const cause = e.cause instanceof Error ? ` ${errorText(e.cause)}` : '';
  return `${typeof code === 'string' ? code : ''} ${e.message}${cause}`;
}

/** Anything thrown → a QuotaClockError with a code. */
export function classify(e: unknown): QuotaClockError {
  if (e instanceof QuotaClockError) {
    // A store's generic failure that is really an outage is told as one, so clients retry.
    if ((e.code === 'STORE_FAILURE' || e.code === 'INTERNAL') && UNREACHABLE.test(errorText(e)))
      return new QuotaClockError('STORE_UNAVAILABLE', 'the store is unavailable', { cause: e });
    return e;
  }
  const fastifyCode = (e as { code?: unknown } | null)?.code;
  if (typeof fastifyCode === 'string' && fastifyCode in FASTIFY_CODES) {
    const code = FASTIFY_CODES[fastifyCode]!;
    const message =
      code === 'PAYLOAD_TOO_LARGE'
        ? 'body: larger than 65536 bytes'
        : code === 'UNSUPPORTED_MEDIA_TYPE'
          ? 'content-type: expected application/json'
          : `body: ${(e as Error).message}`;
    return new QuotaClockError(code, message, {
      where: code === 'UNSUPPORTED_MEDIA_TYPE' ? 'content-type' : 'body',
    });
  }
  // JSON.parse errors and secure-json-parse's prototype-poisoning refusal carry statusCode 400.
  const statusCode = (e as { statusCode?: unknown } | null)?.statusCode;
  if (e instanceof SyntaxError || statusCode === 400)
    return new QuotaClockError('BAD_INPUT', `body: ${(e as Error).message}`, { where: 'body' });
  if (statusCode === 404) return new QuotaClockError('NOT_FOUND', (e as Error).message);
  if (UNREACHABLE.test(errorText(e)))
    return new QuotaClockError('STORE_UNAVAILABLE', 'the store is unavailable', { cause: e });
  return new QuotaClockError('INTERNAL', 'internal error', { cause: e });
}

const HIDDEN = new Set<ErrorCode>(['INTERNAL', 'STORE_FAILURE', 'RESET_FAILED']);

/** The problem document for an error; internal details never leave the process. */
export function toProblem(e: unknown): Problem {
  const err = classify(e);
  const status = ERROR_CODES[err.code].http;
  // Internal failures may carry SQL or driver text: their detail is only the title.
  const detail = HIDDEN.has(err.code) ? titleOf(err.code) : redact(err.message);
  return {
    type: `urn:quotaclock:problem:${err.code.toLowerCase().replace(/_/g, '-')}`,
    title: titleOf(err.code),
    status,
    detail,
    code: err.code,
    ...(err.where === undefined ? {} : { where: err.where }),
  };
}

/** Codes whose answer tells the client when to come back. */
export function retryAfterFor(code: ErrorCode): number | undefined {
  return code === 'STORE_UNAVAILABLE' || code === 'IDEMPOTENCY_KEY_IN_FLIGHT'
    ? RETRY_AFTER_SECONDS
    : undefined;
}

/** Answers with the problem for `e`, and Retry-After where the code has one. */
export function sendProblem(reply: FastifyReply, e: unknown): FastifyReply {
  const problem = toProblem(e);
  const retry = retryAfterFor(problem.code);
  if (retry !== undefined) void reply.header('Retry-After', String(retry));
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}
