import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const { renderMetrics } = await import('../../metrics/prometheus.js');
  const text = (await renderMetrics(qc)).trimEnd();
  if (typeof opts.out === 'string') {
    // Atomic, so the node_exporter textfile collector never reads half a file.
    const path = resolve(opts.out);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${text}\n`);
    renameSync(tmp, path);
    return { data: { out: path }, text: `wrote metrics to ${path}` };
  }
  return { data: { metrics: text }, text };
}
