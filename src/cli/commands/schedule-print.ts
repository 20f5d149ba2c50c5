import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const [{ scheduleContextFromCli }, { generateSchedule }, { artifactText }] = await Promise.all([
    import('../schedule-context.js'),
    import('../../schedule/generate.js'),
    import('../../schedule/artifact.js'),
  ]);
  const artifact = generateSchedule(await scheduleContextFromCli(ctx, opts));
  if (!ctx.json) {
    // stdout carries only the artifact, so it can be piped (kubectl apply -f -); the rest goes to stderr.
    const hints = [
      ...artifact.notes.map((n) => `note: ${n}`),
      ...artifact.commands.map((c) => `${c.purpose}: ${c.command}`),
    ];
    process.stderr.write(`${hints.join('\n')}\n`);
  }
  return { data: artifact, text: artifactText(artifact) };
}
