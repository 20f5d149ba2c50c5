import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { table, type CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new BadInputError('--limit: expected 1-10000', '--limit');
  if (opts.atLimit) {
    if (opts.plan) qc.policy.catalog.assertPlan(String(opts.plan), '--plan');
    const all = await qc.subjectsAtLimit({ limit: 100_000 });
    const items = all.filter((s) => !opts.plan || s.plan === opts.plan).slice(0, limit);
    return {
      data: { items, next: null },
      text: items.length
        ? table([['id', 'plan'], ...items.map((s) => [s.id, s.plan])])
        : 'no subject is at its limit',
    };
  }
  const page = await qc.listSubjects({
    limit,
    ...(opts.after ? { after: String(opts.after) } : {}),
    ...(opts.plan ? { plan: String(opts.plan) } : {}),
    ...(opts.search ? { q: String(opts.search) } : {}),
  });
  const rows = [
    ['id', 'plan', 'suspended', 'time zone', 'email'],
    ...page.items.map((s) => [
      s.id,
      s.plan,
      s.suspended ? 'yes' : '',
      s.timeZone ?? '',
      s.email ?? '',
    ]),
  ];
  return {
    data: page,
    text: `${page.items.length ? table(rows) : 'no subjects'}${page.next ? `\n(more: --after ${page.next})` : ''}`,
  };
}
