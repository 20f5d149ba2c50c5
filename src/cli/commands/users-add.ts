import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  [id]: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const s = await qc.addSubject({
    id: id!,
    ...(opts.plan ? { plan: String(opts.plan) } : {}),
    ...(opts.timeZone ? { timeZone: String(opts.timeZone) } : {}),
    ...(opts.email ? { email: String(opts.email) } : {}),
    ...(opts.name ? { name: String(opts.name) } : {}),
    ...(opts.anchor ? { anchor: String(opts.anchor) } : {}),
  });
  return { data: s, text: `added ${s.id} on plan ${s.plan}` };
}
