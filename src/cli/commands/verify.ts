import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  const { runVerifyAndNotify } = await import('../../notify/verify-monitor.js');
  const r = await runVerifyAndNotify(qc, { logger, trigger: 'cli' });
  const lines = r.violations.map(
    (v) => `VIOLATION ${v.kind}${v.subject ? ` [${v.subject}]` : ''}: ${v.message}`,
  );
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.ok) lines.unshift(`ok: ${r.checked.join('; ')}`);
  else {
    lines.push(`${r.violations.length} violation(s) found`);
    logger.error(
      { violations: r.violations.length },
      `verify failed: ${r.violations.length} violation(s)`,
    );
  }
  for (const d of r.notifications ?? []) {
    lines.push(
      d.ok
        ? `notified: ${d.target}`
        : `notification to ${d.target} FAILED after ${d.attempts} attempt(s): ${d.error ?? 'unknown error'}`,
    );
  }
  return { data: r, text: lines.join('\n'), exitCode: r.ok ? 0 : 1 };
}
