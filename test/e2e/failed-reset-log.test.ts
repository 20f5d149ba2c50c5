import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function errorLines(text: string): Array<{ level: string; msg: string }> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string })
    .filter((l) => l.level === 'error');
}

describe('a failed reset', () => {
  it('writes one error line with the cause to stderr and to the log file', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    // Nothing listens on port 1: the store is unreachable.
    const r = await runCli(
      [
        'reset',
        '--db',
        'postgres://127.0.0.1:1/test',
        '--log-file',
        join(cwd, 'logs', 'quota_reset.log'),
      ],
      { cwd },
    );
    expect(r.code).toBe(1);
    // The rotated file itself (current.log is pino-roll's link to it, made asynchronously).
    const files = readdirSync(join(cwd, 'logs')).filter((f) => /^quota_reset\..+\.log$/.test(f));
    expect(files).toHaveLength(1);
    const inFile = errorLines(readFileSync(join(cwd, 'logs', files[0]!), 'utf8'));
    expect(inFile).toHaveLength(1);
    expect(inFile[0]!.msg).toMatch(/^reset failed: .*(ECONNREFUSED|connect)/i);
    const onStderr = errorLines(r.stderr);
    expect(onStderr).toHaveLength(1);
    expect(onStderr[0]!.msg).toBe(inFile[0]!.msg);
  });
});
