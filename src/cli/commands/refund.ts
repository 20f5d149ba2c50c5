import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  [id]: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  if (!opts.key)
    throw new BadInputError(
      '--key is required: the idempotency key of the consume to undo',
      '--key',
    );
  const qc = await ctx.quotaclock();
  const r = await qc.refund(id!, String(opts.key));
  const text = r.refunded
    ? `refunded ${r.amount} in ${r.period.key}; ${r.used} used now`
    : r.alreadyRefunded
      ? `already refunded; ${r.used} used in ${r.period.key}`
      : `nothing to refund: that consume was not granted`;
  return { data: r, text };
}
