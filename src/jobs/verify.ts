import { Cron } from 'croner';
import type { QuotaClock } from '../quotaclock.js';
import type { IntegrityViolation } from '../store/quota-store.js';

export interface VerifyReport {
  readonly ok: boolean;
  readonly violations: IntegrityViolation[];
  /** Configuration that works but is probably not what was meant. */
  readonly warnings: string[];
  readonly checked: string[];
}

/** Config rules beyond the schema: they do not stop quotaclock, so they are warnings. */
export function configWarnings(qc: QuotaClock): string[] {
  const out: string[] = [];
  const cfg = qc.config;
  for (const [name, plan] of Object.entries(cfg.plans)) {
    for (const f of qc.policy.catalog.features) {
      if (!(f in plan.limits))
        out.push(`plans.${name}.limits.${f}: not set, so ${name} subjects get 0 ${f}`);
    }
  }
  const cron = new Cron(cfg.schedule.cron, { paused: true, timezone: cfg.schedule.timeZone });
  const a = cron.nextRun(new Date('2026-01-01T00:00:00Z'));
  const b = a ? cron.nextRun(a) : null;
  if (a && b) {
    const gapDays = (b.getTime() - a.getTime()) / 86_400_000;
    const expected = { day: 1, week: 7, month: 28, year: 365 }[cfg.period.every];
    if (gapDays < expected * 0.9) {
      out.push(
        `schedule.cron: "${cfg.schedule.cron}" runs more often than the ${cfg.period.every} period; extra runs are harmless no-ops`,
      );
    }
    if (gapDays > { day: 1, week: 7, month: 31, year: 366 }[cfg.period.every] + 0.01) {
      out.push(
        `schedule.cron: "${cfg.schedule.cron}" runs less often than the ${cfg.period.every} period; periods close late`,
      );
    }
  }
  return out;
}

export async function runVerify(
  qc: QuotaClock,
  opts: { now?: number } = {},
): Promise<VerifyReport> {
  const store = await qc.store();
  const violations = await store.verify(opts.now ?? qc.now());
  return {
    ok: violations.length === 0,
    violations,
    warnings: configWarnings(qc),
    checked: [
      'configuration',
      'every subject has a known plan',
      'every counter equals the sum of its events',
      'no grant took a counter over the limit then in force',
      'every ended period is closed',
      'the last run finished',
      'no usage was recorded in a period after it was closed',
    ],
  };
}
