import type { CliContext } from '../context.js';
import { table, type CommandResult } from '../output.js';

export async function run(ctx: CliContext): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const keys = await qc.keys.list();
  const rows = [
    ['id', 'name', 'prefix', 'scopes', 'created', 'revoked'],
    ...keys.map((k) => [
      k.id,
      k.name,
      k.prefix,
      k.scopes.join(','),
      k.createdAt,
      k.revokedAt ?? '',
    ]),
  ];
  return { data: keys, text: keys.length ? table(rows) : 'no API keys' };
}
