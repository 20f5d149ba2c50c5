import { SubjectNotFoundError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { fmtLimit, table, type CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  [id]: string[],
  opts: Record<string, unknown> = {},
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  let isNew = false;
  const s = await qc.status(id!).catch((e: unknown) => {
    if (!(e instanceof SubjectNotFoundError) || opts.asNew !== true) throw e;
    isNew = true;
    return qc.status(id!, { asNew: true });
  });
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
    ...(isNew ? [`(no such subject yet: this is what a new subject would get)`] : []),
    `${s.subject}  plan ${s.plan}${s.suspended ? `  SUSPENDED${s.suspendedReason ? ` (${s.suspendedReason})` : ''}` : ''}`,
    `period ${s.period.key}: ${s.period.start} → ${s.period.end} (${s.timeZone})`,
    table(rows),
  ].join('\n');
  return { data: s, text };
}
