/**
 * Every failure quotaclock reports is a QuotaClockError with a stable code.
 * Exit codes and HTTP statuses are derived from the code in exactly one place
 * (ERROR_CODES below), so the CLI, the HTTP entry points and the library agree.
 */

export const ERROR_CODES = {
  BAD_INPUT: { exit: 2, http: 400 },
  CONFIG_INVALID: { exit: 2, http: 500 },
  UNKNOWN_PLAN: { exit: 2, http: 400 },
  UNKNOWN_FEATURE: { exit: 2, http: 400 },
  INVALID_AMOUNT: { exit: 2, http: 400 },
  INVALID_TIME_ZONE: { exit: 2, http: 400 },
  SUBJECT_NOT_FOUND: { exit: 2, http: 404 },
  SUBJECT_EXISTS: { exit: 2, http: 409 },
  REFUND_KEY_NOT_FOUND: { exit: 2, http: 404 },
  IMPORT_INVALID: { exit: 2, http: 400 },
  BACKUP_INVALID: { exit: 2, http: 400 },
  QUOTA_EXCEEDED: { exit: 3, http: 429 },
  SUBJECT_SUSPENDED: { exit: 4, http: 403 },
  LEASE_HELD: { exit: 1, http: 409 },
  VERIFY_FAILED: { exit: 1, http: 500 },
  STORE_UNAVAILABLE: { exit: 1, http: 503 },
  STORE_FAILURE: { exit: 1, http: 500 },
  /** No database where --db points: a typo, or `quotaclock init` never ran. Nothing is created. */
  STORE_NOT_FOUND: { exit: 2, http: 503 },
  RESET_FAILED: { exit: 1, http: 500 },
  SCHEDULE_UNSUPPORTED: { exit: 2, http: 400 },
  SCHEDULE_FAILED: { exit: 1, http: 500 },
  /** A notifier's settings cannot be used (a secret's env variable is unset, its file unreadable). */
  NOTIFY_CONFIG: { exit: 2, http: 500 },
  /** A delivery failed after its retries (only `notify test` turns this into a failure). */
  NOTIFY_FAILED: { exit: 1, http: 502 },
  /** The store engine lacks a query this command needs. */
  NOT_SUPPORTED: { exit: 1, http: 501 },
  /** The service's own answers (API.md): auth, scopes, request shape, idempotency, login throttling. */
  UNAUTHENTICATED: { exit: 2, http: 401 },
  FORBIDDEN: { exit: 2, http: 403 },
  NOT_FOUND: { exit: 2, http: 404 },
  PAYLOAD_TOO_LARGE: { exit: 2, http: 413 },
  UNSUPPORTED_MEDIA_TYPE: { exit: 2, http: 415 },
  IDEMPOTENCY_KEY_REUSED: { exit: 2, http: 422 },
  IDEMPOTENCY_KEY_IN_FLIGHT: { exit: 1, http: 409 },
  RATE_LIMITED: { exit: 1, http: 429 },
  INTERNAL: { exit: 1, http: 500 },
} as const satisfies Record<string, { exit: number; http: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class QuotaClockError extends Error {
  readonly code: ErrorCode;
  /** Where the problem is: a config path, a flag, a file line. */
  readonly where: string | undefined;
  readonly details: readonly string[];

  constructor(
    code: ErrorCode,
    message: string,
    opts: { where?: string; details?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.where = opts.where;
    this.details = opts.details ?? [];
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  toJSON(): { code: ErrorCode; message: string; where?: string; details?: readonly string[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.where === undefined ? {} : { where: this.where }),
      ...(this.details.length === 0 ? {} : { details: this.details }),
    };
  }
}

export class BadInputError extends QuotaClockError {
  constructor(message: string, where?: string, details?: readonly string[]) {
    super('BAD_INPUT', message, { where, details });
  }
}

export class ConfigError extends QuotaClockError {
  /** message: one line instead of the issue list (a YAML syntax error, `file:line:column: reason`). */
  constructor(issues: readonly string[], source?: string, message?: string) {
    super(
      'CONFIG_INVALID',
      message ?? `invalid configuration${source ? ` in ${source}` : ''}:\n  ${issues.join('\n  ')}`,
      { where: source, details: issues },
    );
  }
}

export class UnknownPlanError extends QuotaClockError {
  constructor(plan: string, known: readonly string[], where?: string) {
    super('UNKNOWN_PLAN', `unknown plan "${plan}" (known plans: ${known.join(', ')})`, { where });
  }
}

export class UnknownFeatureError extends QuotaClockError {
  constructor(feature: string, known: readonly string[], where?: string) {
    super('UNKNOWN_FEATURE', `unknown feature "${feature}" (known: ${known.join(', ')})`, {
      where,
    });
  }
}

export class InvalidAmountError extends QuotaClockError {
  constructor(amount: unknown, where = 'amount') {
    super('INVALID_AMOUNT', `${where}: expected a whole number ≥ 1, got ${String(amount)}`, {
      where,
    });
  }
}

export class InvalidTimeZoneError extends QuotaClockError {
  constructor(zone: string, where = 'timeZone') {
    super('INVALID_TIME_ZONE', `${where}: "${zone}" is not an IANA time zone`, { where });
  }
}

export class SubjectNotFoundError extends QuotaClockError {
  constructor(id: string) {
    super('SUBJECT_NOT_FOUND', `no such subject "${id}"`, { where: 'subject' });
  }
}

export class SubjectExistsError extends QuotaClockError {
  constructor(id: string) {
    super('SUBJECT_EXISTS', `subject "${id}" already exists`, { where: 'subject' });
  }
}

export class RefundKeyNotFoundError extends QuotaClockError {
  constructor(subject: string, key: string) {
    super('REFUND_KEY_NOT_FOUND', `no consume with key "${key}" for subject "${subject}"`, {
      where: 'key',
    });
  }
}

export class StoreUnavailableError extends QuotaClockError {
  constructor(message: string, cause?: unknown) {
    super('STORE_UNAVAILABLE', message, { cause });
  }
}

export class StoreNotFoundError extends QuotaClockError {
  constructor(location: string) {
    super('STORE_NOT_FOUND', `no database at ${location} (run quotaclock init)`, {
      where: '--db',
    });
  }
}

export class LeaseHeldError extends QuotaClockError {
  constructor(name: string, holder: string, expiresAt: string) {
    super(
      'LEASE_HELD',
      `the "${name}" lease is held by ${holder} until ${expiresAt}; another run is in progress`,
    );
  }
}

export class NotFoundError extends QuotaClockError {
  constructor(message: string, where?: string) {
    super('NOT_FOUND', message, { where });
  }
}

export class NotSupportedError extends QuotaClockError {
  constructor(what: string) {
    super('NOT_SUPPORTED', `${what} is not supported by this store`);
  }
}

export class IdempotencyKeyReusedError extends QuotaClockError {
  constructor(key: string) {
    super(
      'IDEMPOTENCY_KEY_REUSED',
      `key: "${key}" was already used for this subject with another request`,
      { where: 'key' },
    );
  }
}

export function isQuotaClockError(e: unknown): e is QuotaClockError {
  return e instanceof QuotaClockError;
}

/** Wraps anything thrown into a QuotaClockError so callers map it uniformly. */
export function asQuotaClockError(e: unknown): QuotaClockError {
  if (e instanceof QuotaClockError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new QuotaClockError('INTERNAL', message, { cause: e });
}
