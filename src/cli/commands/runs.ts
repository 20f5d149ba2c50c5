import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { table, type CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new BadInputError('--limit: expected a whole number ≥ 1', '--limit');
  const qc = await ctx.quotaclock();
  const runs = await (await qc.store()).listRuns(limit);
  const rows = [
    ['period', 'status', 'subjects', 'attempts', 'started', 'finished', 'error'],
    ...runs.map((r) => [
      r.key,
      r.status,
      r.checkpoint.subjects,
      r.attempts,
      r.startedAt,
      r.finishedAt ?? '',
      r.error ?? '',
    ]),
  ];
  return { data: { runs }, text: runs.length ? table(rows) : 'no runs yet' };
}
