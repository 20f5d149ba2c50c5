import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const s = await qc.getSubject(id!);
  const text = Object.entries(s)
    .map(
      ([k, v]) =>
        `${k.padEnd(16)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '')}`,
    )
    .join('\n');
  return { data: s, text };
}
