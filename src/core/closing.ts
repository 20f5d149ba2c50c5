import type { Period, PeriodSubject } from './period.js';
import type { QuotaPolicy } from './policy.js';

/** The subject's first open period, as the store keeps it. */
export interface OpenPeriodMark {
  readonly closedThroughMs: number;
  readonly openEndMs: number;
  readonly openKey: string;
}

export function openPeriodOf(mark: OpenPeriodMark): Period {
  return { startMs: mark.closedThroughMs, endMs: mark.openEndMs, key: mark.openKey };
}

/** Where the mark moves when the open period closes: the next period of the same schedule. */
export function nextMark(
  policy: QuotaPolicy,
  subject: PeriodSubject,
  mark: OpenPeriodMark,
): OpenPeriodMark {
  const next = policy.periods.after(subject, openPeriodOf(mark));
  return { closedThroughMs: next.startMs, openEndMs: next.endMs, openKey: next.key };
}

/** Every period of this subject that has ended by nowMs and is not closed, oldest first. */
export function endedOpenPeriods(
  policy: QuotaPolicy,
  subject: PeriodSubject,
  mark: OpenPeriodMark,
  nowMs: number,
): Period[] {
  const out: Period[] = [];
  let p = openPeriodOf(mark);
  while (p.endMs <= nowMs) {
    out.push(p);
    p = policy.periods.after(subject, p);
  }
  return out;
}
