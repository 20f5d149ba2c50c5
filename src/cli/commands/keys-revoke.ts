import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const k = await qc.keys.revoke(id!);
  return { data: k, text: `revoked API key ${k.id} "${k.name}" at ${k.revokedAt}` };
}
