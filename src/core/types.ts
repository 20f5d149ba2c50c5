import type { AnswerClock } from './answer-clock.js';
import type { Limit, Limits } from './plans.js';

export interface Subject {
  readonly id: string;
  readonly plan: string;
  readonly overrides: Limits;
  readonly suspended: boolean;
  readonly suspendedReason: string | null;
  /** null: the period rule's zone applies. */
  readonly timeZone: string | null;
  /** ISO instant the signup anchor counts from. */
  readonly anchor: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly createdAt: string;
}

export interface NewSubject {
  readonly id: string;
  readonly plan?: string;
  readonly overrides?: Limits;
  readonly timeZone?: string | null;
  readonly anchor?: string;
  readonly email?: string | null;
  readonly name?: string | null;
}

/**
 * One row of `users import`: a subject, plus what the earlier system knew of
 * it. Absent fields leave what the store has.
 */
export interface ImportedSubject extends NewSubject {
  readonly suspended?: boolean;
  readonly suspendedReason?: string | null;
  /**
   * Usage counted outside quotaclock in the subject's period containing the
   * import's `now`, per feature. Each feature comes across once per period,
   * as one import event, so a re-import does not count it twice.
   */
  readonly usage?: Readonly<Record<string, number>>;
}

export interface UpsertResult {
  readonly added: number;
  readonly updated: number;
  /** Features whose imported usage became an import event. */
  readonly usageImported: number;
}

export interface PeriodView {
  readonly key: string;
  readonly start: string;
  readonly end: string;
}

export type Metadata = Readonly<Record<string, unknown>>;

export interface ConsumeOptions {
  readonly key?: string;
  readonly meta?: Metadata;
  /** Epoch ms; defaults to the clock. */
  readonly now?: number;
  /**
   * What the request was (the service hashes its body). A retry with the same
   * key and another fingerprint is refused with IDEMPOTENCY_KEY_REUSED.
   */
  readonly fingerprint?: string;
}

export type DenialReason = 'quota_exceeded' | 'suspended';

/**
 * Every decision answer (consume, check, refund, status) carries its period
 * plus the zone it was computed in and the seconds left until it ends
 * (AnswerClock). A replay carries the first answer's values.
 */
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

/** One consume of a batch (QuotaStore.consumeMany): what a single consume takes. */
export interface ConsumeItem {
  readonly subject: string;
  readonly feature: string;
  readonly amount: number;
  readonly key?: string;
  readonly meta?: Metadata;
  readonly fingerprint?: string;
}

/**
 * How one item of a batch ended: its answer, or the error a single consume
 * would have thrown (an unknown subject, a reused key). An item's error never
 * touches the others.
 */
export type ItemOutcome<T> =
  { readonly ok: true; readonly result: T } | { readonly ok: false; readonly error: Error };

export interface ResetSubjectResult {
  readonly subject: string;
  readonly period: PeriodView;
  /** Units zeroed per feature (only features that had usage). */
  readonly cleared: Readonly<Record<string, number>>;
  /** True when this subject was already reset by the same operation in this period. */
  readonly skipped?: boolean;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Pass back as `after` to get the next page; null at the end. */
  readonly next: string | null;
}

export interface ListOptions {
  readonly after?: string | null;
  readonly limit?: number;
  readonly plan?: string;
  /** A prefix of the id or of the email; served by an index. */
  readonly q?: string;
}
