import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  [id]: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const dryRun = opts.dryRun === true;
  const reason = opts.reason ? String(opts.reason) : undefined;
  if (id && opts.all) throw new BadInputError('give either <id> or --all, not both', '--all');
  if (!id && !opts.all)
    throw new BadInputError('give a subject <id>, or --all (optionally with --plan)', '<id>');
  if (id && opts.plan) throw new BadInputError('--plan goes with --all', '--plan');
  const prefix = dryRun ? '[dry run] would clear' : 'cleared';
  if (id) {
    const r = await qc.resetSubject(id, { dryRun, ...(reason ? { reason } : {}) });
    const what =
      Object.entries(r.cleared)
        .map(([f, n]) => `${n} ${f}`)
        .join(', ') || 'nothing (no usage)';
    return { data: { dryRun, ...r }, text: `${id} (${r.period.key}): ${prefix} ${what}` };
  }
  const log = await ctx.logger();
  const { resetMany } = await import('../../jobs/manual-reset.js');
  const r = await resetMany(qc, {
    dryRun,
    force: opts.force === true,
    ...(reason ? { reason } : {}),
    ...(opts.plan ? { plan: String(opts.plan) } : {}),
  });
  log.info({ ...r }, 'manual bulk reset finished');
  const what =
    Object.entries(r.cleared)
      .map(([f, n]) => `${n} ${f}`)
      .join(', ') || 'no usage';
  return {
    data: r,
    text: `${prefix} ${what} across ${r.subjects} subject(s)${r.skipped ? `; ${r.skipped} already done by this operation (resumed)` : ''}`,
  };
}
