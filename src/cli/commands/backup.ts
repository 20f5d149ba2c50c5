import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  if (!opts.out && ctx.json) {
    throw new BadInputError(
      '--json: without --out the backup itself (JSONL) goes to stdout, so there is no room for a JSON summary; add --out <file>',
      '--json',
    );
  }
  const qc = await ctx.quotaclock();
  const { writeBackup } = await import('../../jobs/backup.js');
  if (!opts.out) {
    // The backup itself is the output: nothing else may go to stdout.
    await writeBackup(qc, process.stdout);
    return { data: undefined, text: '' };
  }
  const out = String(opts.out);
  const r = await writeBackup(qc, out);
  return {
    data: { file: out, ...r },
    text: `wrote ${r.records} record(s) to ${out} (sha256 ${r.sha256})`,
  };
}
