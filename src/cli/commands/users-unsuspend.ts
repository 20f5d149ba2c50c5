import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const s = await qc.unsuspend(id!);
  return { data: s, text: `${s.id} is no longer suspended` };
}
