import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext, [id, feature, value]: string[]): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  let limit: number | null | undefined;
  if (value === 'plan') limit = undefined;
  else if (value === 'unlimited') limit = null;
  else if (/^\d+$/.test(value!)) limit = Number(value);
  else
    throw new BadInputError(
      `<limit>: expected a whole number ≥ 0, "unlimited" or "plan", got "${value}"`,
      '<limit>',
    );
  const s = await qc.setOverride(id!, feature!, limit);
  return {
    data: s,
    text:
      limit === undefined
        ? `${s.id}: ${feature} follows plan ${s.plan} again`
        : `${s.id}: ${feature} limit is now ${limit ?? 'unlimited'}`,
  };
}
