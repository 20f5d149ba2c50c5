import { BadInputError } from '../../core/errors.js';
import { isPeriodKeyOf, lastEndedPeriod } from '../../core/period-key.js';
import type { QuotaPolicy } from '../../core/policy.js';

/** Refuses a `--force-period` that is not a key of the configured period rule. */
export function checkForcePeriod(
  policy: QuotaPolicy,
  nowMs: number,
  forcePeriod: string | undefined,
): void {
  if (forcePeriod === undefined || isPeriodKeyOf(policy.rule.every, forcePeriod)) return;
  throw new BadInputError(
    `--force-period: "${forcePeriod}" is not a ${policy.rule.every} period key (for example ${lastEndedPeriod(policy.rule, nowMs).key})`,
    '--force-period',
  );
}
