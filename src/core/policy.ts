import { PlanCatalog, type Limit, type Limits, type PlanSet } from './plans.js';
import { PeriodCalculator, toIso, type Period, type PeriodRule } from './period.js';
import type { FeatureStatus, PeriodView } from './types.js';

/**
 * Everything a store needs to decide, without knowing where the rules came
 * from: plans, the period rule and whether unknown subjects are created.
 */
export class QuotaPolicy {
  readonly catalog: PlanCatalog;
  readonly periods: PeriodCalculator;

  constructor(opts: {
    plans: PlanSet;
    defaultPlan: string;
    period: PeriodRule;
    autoCreateSubjects: boolean;
    retentionPeriods: number;
  }) {
    this.catalog = new PlanCatalog(opts.plans, opts.defaultPlan);
    this.periods = new PeriodCalculator(opts.period);
    this.autoCreateSubjects = opts.autoCreateSubjects;
    this.retentionPeriods = opts.retentionPeriods;
  }

  readonly autoCreateSubjects: boolean;
  readonly retentionPeriods: number;
  private createdListener: ((subject: string, plan: string) => void) | undefined;

  /** The facade listens here: a consume that created its subject is logged, so a mistyped id is noticed. */
  onSubjectAutoCreated(listener: (subject: string, plan: string) => void): void {
    this.createdListener = listener;
  }

  /** Stores call this once a consume has created its subject (autoCreateSubjects). */
  subjectAutoCreated(subject: string, plan: string): void {
    this.createdListener?.(subject, plan);
  }

  get rule(): PeriodRule {
    return this.periods.rule;
  }
}

export function remainingOf(limit: Limit, used: number): number | null {
  return limit === null ? null : Math.max(0, limit - used);
}

export function featureStatus(limit: Limit, used: number): FeatureStatus {
  return { limit, used, remaining: remainingOf(limit, used), unlimited: limit === null };
}

/** The check half of check-and-increment; stores run it inside their atomic step. */
export function fits(limit: Limit, used: number, amount: number): boolean {
  return limit === null || used + amount <= limit;
}

/** The view made last: a batch or a busy subject asks for the same period's many times in a row. */
let last: { key: string; startMs: number; endMs: number; view: PeriodView } | undefined;

export function periodView(p: Period): PeriodView {
  if (last?.key === p.key && last.startMs === p.startMs && last.endMs === p.endMs) return last.view;
  // Frozen: the one object goes into many answers, so none of them may change it.
  const view = Object.freeze({ key: p.key, start: toIso(p.startMs), end: toIso(p.endMs) });
  last = { key: p.key, startMs: p.startMs, endMs: p.endMs, view };
  return view;
}

export function isAtLimit(limit: Limit, used: number): boolean {
  return limit !== null && used >= limit;
}

export type { Limits };
