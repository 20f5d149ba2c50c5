import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  [file]: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const { importSubjects } = await import('../../jobs/import-subjects.js');
  const r = await importSubjects(qc, file!, { dryRun: opts.dryRun === true });
  return {
    data: r,
    text: [
      `${r.dryRun ? '[dry run] would import' : 'imported'} ${r.rows} row(s): ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged${r.usageImported ? `, usage of this period for ${r.usageImported} feature(s)` : ''}`,
      ...r.notes.map((n) => `  note: ${n}`),
    ].join('\n'),
  };
}
