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

export interface ConsumeResult {
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

export interface RefundResult {
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

export interface StatusResult {
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
