import { describe, expect, it } from 'vitest';
import {
  BadInputError,
  ConfigError,
  ERROR_CODES,
  InvalidAmountError,
  InvalidTimeZoneError,
  LeaseHeldError,
  QuotaClockError,
  RefundKeyNotFoundError,
  StoreUnavailableError,
  SubjectExistsError,
  SubjectNotFoundError,
  UnknownFeatureError,
  UnknownPlanError,
  asQuotaClockError,
  isQuotaClockError,
  type ErrorCode,
} from '../../src/core/errors.js';

/**
 * The contract, written out independently of ERROR_CODES: DESIGN.md exit codes
 * (2 bad input, 3 quota exceeded, 4 suspended, 1 failure) and HTTP statuses.
 * A code added later must still obey the general rules checked below.
 */
const EXPECTED: Partial<Record<ErrorCode, { exit: number; http: number }>> = {
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
  STORE_NOT_FOUND: { exit: 2, http: 503 },
  RESET_FAILED: { exit: 1, http: 500 },
  SCHEDULE_UNSUPPORTED: { exit: 2, http: 400 },
  SCHEDULE_FAILED: { exit: 1, http: 500 },
  NOTIFY_CONFIG: { exit: 2, http: 500 },
  NOTIFY_FAILED: { exit: 1, http: 502 },
  NOT_SUPPORTED: { exit: 1, http: 501 },
  INTERNAL: { exit: 1, http: 500 },
};

/** Exit 2 for a mistake in the operator's own configuration (a bad file, a --db with no database), which is a server error over HTTP. */
const OPERATOR_CONFIG_CODES = new Set(['CONFIG_INVALID', 'NOTIFY_CONFIG', 'STORE_NOT_FOUND']);

const RETRY_LATER_CODES = new Set(['LEASE_HELD', 'IDEMPOTENCY_KEY_IN_FLIGHT', 'RATE_LIMITED']);

describe('error codes', () => {
  it('every stable code maps to the documented exit code and HTTP status', () => {
    for (const code of Object.keys(EXPECTED)) expect(ERROR_CODES).toHaveProperty(code);
    for (const [code, want] of Object.entries(EXPECTED)) {
      expect({ code, ...ERROR_CODES[code as ErrorCode] }).toEqual({ code, ...want });
    }
  });

  it.each(Object.entries(EXPECTED))(
    'a QuotaClockError with code %s exposes exit %o',
    (code, want) => {
      const e = new QuotaClockError(code as ErrorCode, 'boom');
      expect(e.exitCode).toBe(want.exit);
      expect(e.httpStatus).toBe(want.http);
    },
  );

  it('exit codes stay in the documented range: 1 failure, 2 bad input, 3 quota exceeded, 4 suspended', () => {
    const exits = new Set(Object.values(ERROR_CODES).map((c) => c.exit));
    expect([...exits].sort()).toEqual([1, 2, 3, 4]);
    // Only one code means "quota exceeded" and only one means "suspended".
    expect(
      Object.entries(ERROR_CODES)
        .filter(([, c]) => c.exit === 3)
        .map(([k]) => k),
    ).toEqual(['QUOTA_EXCEEDED']);
    expect(
      Object.entries(ERROR_CODES)
        .filter(([, c]) => c.exit === 4)
        .map(([k]) => k),
    ).toEqual(['SUBJECT_SUSPENDED']);
    for (const [code, c] of Object.entries(ERROR_CODES)) {
      expect([1, 2, 3, 4], code).toContain(c.exit);
      expect(c.http, code).toBeGreaterThanOrEqual(400);
      expect(c.http, code).toBeLessThan(600);
      // Client mistakes are 4xx over HTTP, except the operator's own config, which is a server error.
      if (c.exit === 2 && !OPERATOR_CONFIG_CODES.has(code)) expect(c.http, code).toBeLessThan(500);
      // Failures are never blamed on the client, except "try again later": a conflict with a
      // running job, a duplicate request still in flight, or the login throttle.
      if (c.exit === 1 && !RETRY_LATER_CODES.has(code))
        expect(c.http, code).toBeGreaterThanOrEqual(500);
    }
  });
});

describe('error classes', () => {
  it.each([
    [new BadInputError('amount: nope', 'amount'), 'BAD_INPUT', 2, 400, 'amount'],
    [
      new ConfigError(['plans.pro.limits.stock_reports: expected integer ≥ 0 or null'], 'qc.json'),
      'CONFIG_INVALID',
      2,
      500,
      'qc.json',
    ],
    [new UnknownPlanError('gold', ['free', 'pro']), 'UNKNOWN_PLAN', 2, 400, undefined],
    [
      new UnknownFeatureError('pdfs', ['stock_reports'], 'feature'),
      'UNKNOWN_FEATURE',
      2,
      400,
      'feature',
    ],
    [new InvalidAmountError(0), 'INVALID_AMOUNT', 2, 400, 'amount'],
    [new InvalidTimeZoneError('Mars/Base'), 'INVALID_TIME_ZONE', 2, 400, 'timeZone'],
    [new SubjectNotFoundError('u1'), 'SUBJECT_NOT_FOUND', 2, 404, 'subject'],
    [new SubjectExistsError('u1'), 'SUBJECT_EXISTS', 2, 409, 'subject'],
    [new RefundKeyNotFoundError('u1', 'k1'), 'REFUND_KEY_NOT_FOUND', 2, 404, 'key'],
    [new StoreUnavailableError('down'), 'STORE_UNAVAILABLE', 1, 503, undefined],
    [
      new LeaseHeldError('reset', 'host-a', '2026-12-01T00:02:00.000Z'),
      'LEASE_HELD',
      1,
      409,
      undefined,
    ],
  ] as const)('%s → %s, exit %d, HTTP %d, where %s', (err, code, exit, http, where) => {
    expect(err).toBeInstanceOf(QuotaClockError);
    expect(err).toBeInstanceOf(Error);
    expect(isQuotaClockError(err)).toBe(true);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(exit);
    expect(err.httpStatus).toBe(http);
    expect(err.where).toBe(where);
    expect(err.name).toBe(err.constructor.name);
  });

  it('messages name the offending value and field', () => {
    expect(new InvalidAmountError(1.5).message).toBe(
      'amount: expected a whole number ≥ 1, got 1.5',
    );
    expect(new InvalidAmountError(-1, '--amount').message).toBe(
      '--amount: expected a whole number ≥ 1, got -1',
    );
    expect(new InvalidTimeZoneError('Mars/Base', 'subject.timeZone').message).toBe(
      'subject.timeZone: "Mars/Base" is not an IANA time zone',
    );
    expect(new UnknownPlanError('gold', ['free', 'pro']).message).toBe(
      'unknown plan "gold" (known plans: free, pro)',
    );
    const config = new ConfigError(['a.b: bad', 'c: worse'], 'qc.yaml');
    expect(config.message).toBe('invalid configuration in qc.yaml:\n  a.b: bad\n  c: worse');
    expect(config.details).toEqual(['a.b: bad', 'c: worse']);
  });

  it('toJSON gives code and message, with where and details only when present', () => {
    expect(JSON.parse(JSON.stringify(new QuotaClockError('INTERNAL', 'x')))).toEqual({
      code: 'INTERNAL',
      message: 'x',
    });
    expect(JSON.parse(JSON.stringify(new ConfigError(['p: bad'], 'f.json')))).toEqual({
      code: 'CONFIG_INVALID',
      message: 'invalid configuration in f.json:\n  p: bad',
      where: 'f.json',
      details: ['p: bad'],
    });
  });

  it('keeps the cause without putting it in the JSON', () => {
    const cause = new Error('SQLITE_CANTOPEN: password=hunter2 in a path');
    const e = new StoreUnavailableError('cannot open the store', cause);
    expect(e.cause).toBe(cause);
    expect(JSON.stringify(e)).not.toContain('hunter2');
  });
});

describe('asQuotaClockError', () => {
  it('passes coded errors through untouched', () => {
    const e = new SubjectNotFoundError('u1');
    expect(asQuotaClockError(e)).toBe(e);
  });

  it('wraps anything else as INTERNAL (exit 1, HTTP 500) and keeps the cause', () => {
    const raw = new TypeError('undefined is not a function');
    const wrapped = asQuotaClockError(raw);
    expect(wrapped.code).toBe('INTERNAL');
    expect(wrapped.exitCode).toBe(1);
    expect(wrapped.httpStatus).toBe(500);
    expect(wrapped.message).toBe('undefined is not a function');
    expect(wrapped.cause).toBe(raw);
    const thrownString = asQuotaClockError('plain string');
    expect(thrownString.code).toBe('INTERNAL');
    expect(thrownString.message).toBe('plain string');
    expect(isQuotaClockError(raw)).toBe(false);
    expect(isQuotaClockError({ code: 'BAD_INPUT' })).toBe(false);
  });
});
