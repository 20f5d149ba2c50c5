import type { Problem } from './types.js';

/** Every error the client throws carries a stable `code`. */
export class QuotaClockClientError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The service answered with an RFC 9457 problem (or, from something in front
 * of it, a non-JSON error). `code` is the service's stable error code, such as
 * `INVALID_AMOUNT` or `REFUND_KEY_NOT_FOUND`; `HTTP_<status>` when the answer
 * carried none.
 */
export class QuotaClockApiError extends QuotaClockClientError {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  /** The field the problem is about, when the service named one. */
  readonly where: string | undefined;
  readonly type: string;

  constructor(status: number, problem: Partial<Problem>) {
    const code = typeof problem.code === 'string' ? problem.code : `HTTP_${status}`;
    const title = typeof problem.title === 'string' ? problem.title : `HTTP ${status}`;
    const detail = typeof problem.detail === 'string' ? problem.detail : undefined;
    super(code, `${code} (${status}): ${detail ?? title}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.where = typeof problem.where === 'string' ? problem.where : undefined;
    this.type = typeof problem.type === 'string' ? problem.type : 'about:blank';
  }
}

/**
 * The service could not be reached, or kept failing, through every retry.
 * consume() and check() turn this into the failMode's answer; refund(),
 * status() and history() have no safe default, so they throw it.
 */
export class QuotaClockUnavailableError extends QuotaClockClientError {
  /** Requests sent, the first one included. */
  readonly attempts: number;
  /** The last HTTP status seen, if the last attempt got an answer at all. */
  readonly lastStatus: number | undefined;

  constructor(attempts: number, lastError: unknown) {
    const status = lastError instanceof QuotaClockApiError ? lastError.status : undefined;
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    super(
      'SERVICE_UNAVAILABLE',
      `quotaclock service unavailable after ${attempts} attempt(s): ${why}`,
      {
        cause: lastError,
      },
    );
    this.attempts = attempts;
    this.lastStatus = status;
  }
}
