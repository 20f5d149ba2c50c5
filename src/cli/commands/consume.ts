import { BadInputError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { fmtLimit, type CommandResult } from '../output.js';

function parseMeta(pairs: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(pairs) || pairs.length === 0) return undefined;
  const meta: Record<string, unknown> = {};
  for (const p of pairs as string[]) {
    const i = p.indexOf('=');
    if (i < 1) throw new BadInputError(`--meta: expected key=value, got "${p}"`, '--meta');
    const raw = p.slice(i + 1);
    // Numbers stay numbers (generation_time_ms=1200), everything else is text.
    meta[p.slice(0, i)] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return meta;
}

export async function run(
  ctx: CliContext,
  [id, feature]: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const amountText = String(opts.amount ?? '1');
  if (!/^\d+$/.test(amountText))
    throw new BadInputError(
      `--amount: expected a whole number ≥ 1, got "${amountText}"`,
      '--amount',
    );
  const qc = await ctx.quotaclock();
  const meta = parseMeta(opts.meta);
  const r = await qc.consume(id!, feature!, Number(amountText), {
    ...(opts.key ? { key: String(opts.key) } : {}),
    ...(meta ? { meta } : {}),
  });
  const usage = `${r.used}/${fmtLimit(r.limit)} used in ${r.period.key}${r.remaining === null ? '' : `, ${r.remaining} left`}`;
  const text = r.granted
    ? `granted: ${usage}${r.replayed ? ' (replayed: this key was already used)' : ''}`
    : r.reason === 'suspended'
      ? `refused: ${id} is suspended`
      : `quota exceeded: ${usage}`;
  return { data: r, text, exitCode: r.granted ? 0 : r.reason === 'suspended' ? 4 : 3 };
}
