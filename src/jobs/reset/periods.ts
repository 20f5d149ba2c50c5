import { BadInputError } from '../../core/errors.js';
import { PeriodSchedule, type Period } from '../../core/period.js';
import type { QuotaPolicy } from '../../core/policy.js';

const KEY_FORMAT: Record<string, RegExp> = {
  day: /^\d{4}-\d{2}-\d{2}$/,
  week: /^\d{4}-W\d{2}$/,
  month: /^\d{4}-\d{2}$/,
  year: /^\d{4}$/,
};

/** The most recently ended period in the rule's own zone: what "this month's reset" is about. */
export function lastEndedPeriod(policy: QuotaPolicy, nowMs: number): Period {
  const rule = { ...policy.rule, anchor: 'calendar' as const };
  const schedule = new PeriodSchedule(rule, { timeZone: null, anchorMs: nowMs });
  return schedule.before(schedule.at(nowMs));
}

/** Closed periods and events older than this are pruned. */
export function retentionCutoff(policy: QuotaPolicy, nowMs: number): number {
  const rule = { ...policy.rule, anchor: 'calendar' as const };
  const schedule = new PeriodSchedule(rule, { timeZone: null, anchorMs: nowMs });
  let p = schedule.at(nowMs);
  for (let i = 0; i < policy.retentionPeriods; i += 1) p = schedule.before(p);
  // Subjects in zones behind the rule's end their periods up to 12 h later (UTC−12);
  // 14 h of slack keeps exactly `retention` periods for every zone, even daily ones.
  return p.startMs + 14 * 3_600_000;
}

/** Refuses a `--force-period` that is not a key of the configured period rule. */
export function checkForcePeriod(
  policy: QuotaPolicy,
  nowMs: number,
  forcePeriod: string | undefined,
): void {
  if (forcePeriod === undefined || KEY_FORMAT[policy.rule.every]!.test(forcePeriod)) return;
  throw new BadInputError(
    `--force-period: "${forcePeriod}" is not a ${policy.rule.every} period key (for example ${lastEndedPeriod(policy, nowMs).key})`,
    '--force-period',
  );
}
