import type { CliContext } from '../context.js';
import { fmtLimit, table, type CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const h = await qc.history(id!);
  const rows: Array<Array<string | number>> = [
    ['period', 'state', 'plan', 'feature', 'used', 'limit'],
  ];
  for (const e of h) {
    for (const [f, v] of Object.entries(e.features))
      rows.push([e.key, e.closed ? 'closed' : 'open', e.plan ?? '', f, v.used, fmtLimit(v.limit)]);
  }
  return {
    data: { subject: id, periods: h },
    text: h.length ? table(rows) : `no usage recorded for ${id}`,
  };
}
