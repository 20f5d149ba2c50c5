import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext, [file]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const { restoreBackup } = await import('../../jobs/backup.js');
  const r = await restoreBackup(qc, file!);
  return { data: { file, ...r }, text: `restored ${r.records} record(s) from ${file}` };
}
