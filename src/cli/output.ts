import { redact, redactDeep } from '../log/redact.js';

/** What a command hands back; main prints it once and exits with the code. */
export interface CommandResult {
  /** The one JSON document printed with --json. */
  readonly data: unknown;
  /** The human rendering printed without --json. */
  readonly text: string;
  readonly exitCode?: number;
}

export function printResult(result: CommandResult, json: boolean): void {
  if (result.data === undefined && !result.text) return;
  if (json) {
    process.stdout.write(`${JSON.stringify(redactDeep(result.data), null, 2)}\n`);
  } else if (result.text) {
    process.stdout.write(`${redact(result.text)}\n`);
  }
}

export function table(rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => String(c ?? '').padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const fmtLimit = (limit: number | null) => (limit === null ? 'unlimited' : String(limit));
