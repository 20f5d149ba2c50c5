import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id, plan]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const s = await qc.setPlan(id!, plan!);
  return { data: s, text: `${s.id} is now on plan ${s.plan}` };
}
