import type { CliContext } from '../context.js';
import { fmtLimit, table, type CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const s = await qc.status(id!);
  const rows = [
    ['feature', 'used', 'limit', 'remaining'],
    ...Object.entries(s.features).map(([f, v]) => [
      f,
      v.used,
      fmtLimit(v.limit),
      v.remaining ?? 'unlimited',
    ]),
  ];
  const text = [
    `${s.subject}  plan ${s.plan}${s.suspended ? `  SUSPENDED${s.suspendedReason ? ` (${s.suspendedReason})` : ''}` : ''}`,
    `period ${s.period.key}: ${s.period.start} → ${s.period.end} (${s.timeZone})`,
    table(rows),
  ].join('\n');
  return { data: s, text };
}
