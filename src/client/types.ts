/**
 * The service's answers, with the library's field names (src/core/types.ts).
 * Duplicated as plain interfaces on purpose: the client imports nothing else
 * from src/, so a bundle of it never pulls in the store code.
 */

/** null means unlimited. */
export type Limit = number | null;

export interface PeriodView {
  readonly key: string;
  /** ISO instant, inclusive. */
  readonly start: string;
  /** ISO instant, exclusive. */
  readonly end: string;
}

export type Metadata = Readonly<Record<string, unknown>>;

export type DenialReason = 'quota_exceeded' | 'suspended';

/** What every decision answer says about time besides its period. */
export interface AnswerClock {
  /** The IANA zone the period was computed in: the subject's own, or the service's period rule's. */
  readonly timeZone: string;
  /** Whole seconds until the period ends, rounded up: the `t` of the RateLimit header. A replay carries the first answer's value. */
  readonly secondsLeft: number;
}

/** `POST /v1/consume`: the library's ConsumeResult plus subject, feature and the key used. */
export interface ConsumeResult extends AnswerClock {
  readonly granted: boolean;
  readonly used: number;
  readonly limit: Limit;
  readonly remaining: number | null;
  readonly period: PeriodView;
  /** Present when granted is false. */
  readonly reason?: DenialReason;
  /** True when this answer is the stored outcome of an earlier call with the same key. */
  readonly replayed?: boolean;
  readonly subject: string;
  readonly feature: string;
  /** The idempotency key the consume was counted under: the caller's, or one the client made up. Pass it to refund(). */
  readonly key: string;
}

/**
 * What consume() resolves when the service could not be reached after the
 * retries. `granted` is the client's failMode: false for 'closed', true for
 * 'open'. Nothing was counted; `key` lets the caller replay the consume later.
 */
export interface UnavailableConsumeResult {
  readonly granted: boolean;
  readonly reason: 'unavailable';
  readonly used: null;
  readonly limit: null;
  readonly remaining: null;
  readonly period: null;
  readonly timeZone: null;
  readonly secondsLeft: null;
  readonly subject: string;
  readonly feature: string;
  readonly key: string;
}

/** `POST /v1/check`: writes nothing. The client adds subject and feature. */
export interface CheckResult extends AnswerClock {
  readonly allowed: boolean;
  readonly limit: Limit;
  readonly used: number;
  readonly remaining: number | null;
  readonly reason?: DenialReason;
  readonly period: PeriodView;
  readonly subject: string;
  readonly feature: string;
}

/** What check() resolves when the service could not be reached: `allowed` follows failMode. */
export interface UnavailableCheckResult {
  readonly allowed: boolean;
  readonly reason: 'unavailable';
  readonly limit: null;
  readonly used: null;
  readonly remaining: null;
  readonly period: null;
  readonly timeZone: null;
  readonly secondsLeft: null;
  readonly subject: string;
  readonly feature: string;
}

export interface RefundResult extends AnswerClock {
  readonly refunded: boolean;
  /** Units given back; 0 when the consume was denied or already refunded. */
  readonly amount: number;
  readonly used: number;
  readonly period: PeriodView;
  readonly alreadyRefunded?: boolean;
}

export interface FeatureStatus {
  readonly limit: Limit;
  readonly used: number;
  readonly remaining: number | null;
  readonly unlimited: boolean;
}

export interface StatusResult extends AnswerClock {
  readonly subject: string;
  readonly plan: string;
  readonly suspended: boolean;
  readonly suspendedReason: string | null;
  readonly timeZone: string;
  readonly period: PeriodView;
  readonly features: Readonly<Record<string, FeatureStatus>>;
}

export interface HistoryEntry {
  readonly key: string;
  readonly start: string;
  readonly end: string;
  /** Whether the reset job has closed this period. */
  readonly closed: boolean;
  readonly plan: string | null;
  readonly features: Readonly<Record<string, { readonly limit: Limit; readonly used: number }>>;
}

/** RFC 9457 problem details with the project's stable error code. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly code: string;
  readonly where?: string;
}

export type BatchItem =
  | {
      readonly op: 'consume';
      readonly subject: string;
      readonly feature: string;
      readonly amount?: number;
      readonly key?: string;
      readonly meta?: Metadata;
    }
  | {
      readonly op: 'check';
      readonly subject: string;
      readonly feature: string;
      readonly amount?: number;
    }
  | { readonly op: 'refund'; readonly subject: string; readonly key: string };

export type BatchResultItem =
  | ConsumeResult
  | UnavailableConsumeResult
  | CheckResult
  | UnavailableCheckResult
  | RefundResult
  | Problem;

export interface BatchResult {
  readonly results: readonly BatchResultItem[];
}
