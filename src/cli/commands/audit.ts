import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { table, type CommandResult } from '../output.js';

const brief = (v: unknown) => (v === null || v === undefined ? '' : JSON.stringify(v));

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const limit = Number(opts.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new BadInputError('--limit: expected 1-1000', '--limit');
  const qc = await ctx.quotaclock();
  const page = await qc.audit.list({
    limit,
    ...(opts.subject ? { subject: String(opts.subject) } : {}),
    ...(opts.actor ? { actor: String(opts.actor) } : {}),
    ...(opts.after ? { after: String(opts.after) } : {}),
  });
  const rows = [
    ['at', 'actor', 'action', 'subject', 'before', 'after'],
    ...page.items.map((e) => [
      e.at,
      e.actor,
      e.action,
      e.subject ?? '',
      brief(e.before),
      brief(e.after),
    ]),
  ];
  return {
    data: page,
    text: `${page.items.length ? table(rows) : 'no audit entries'}${page.next ? `\n(more: --after ${page.next})` : ''}`,
  };
}
