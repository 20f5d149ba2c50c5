import type { CliContext } from '../context.js';
import { fmtLimit, table, type CommandResult } from '../output.js';

export async function run(ctx: CliContext): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const plans = qc.plans();
  const features = qc.policy.catalog.features;
  const rows = [
    ['plan', ...features],
    ...plans.map((p) => [
      p.name + (p.name === qc.policy.catalog.defaultPlan ? ' (default)' : ''),
      ...features.map((f) => fmtLimit(qc.policy.catalog.limitFor(p.name, {}, f))),
    ]),
  ];
  const rule = qc.policy.rule;
  return {
    data: { defaultPlan: qc.policy.catalog.defaultPlan, period: rule, plans },
    text: `${table(rows)}\n\nper ${rule.every} (${rule.anchor} anchor, ${rule.timeZone})`,
  };
}
