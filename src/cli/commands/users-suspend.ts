import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  [id]: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const s = await qc.suspend(id!, opts.reason ? String(opts.reason) : undefined);
  return {
    data: s,
    text: `${s.id} is suspended${s.suspendedReason ? ` (${s.suspendedReason})` : ''}`,
  };
}
