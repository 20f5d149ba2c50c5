import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function fresh(): string {
  const d = tempDir('qc-bytes-');
  dirs.push(d);
  return d;
}

describe('bad bytes and long messages', () => {
  it('users import refuses a file that is not UTF-8, naming line and column; nothing written', async () => {
    const cwd = fresh();
    expect((await runCli(['init'], { cwd })).code).toBe(0);
    // "José" saved as Latin-1: é is the single byte 0xE9, on line 3, column 12 (after the 11 characters "bob,pro,Jos").
    const csv = Buffer.concat([
      Buffer.from('id,plan,name\nalice,free,Ålice\nbob,pro,Jos', 'utf8'),
      Buffer.from([0xe9]),
      Buffer.from('\n', 'utf8'),
    ]);
    writeFileSync(join(cwd, 'users.csv'), csv);
    const r = await runCli(['users', 'import', 'users.csv'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('users.csv: line 3, column 12: not valid UTF-8 (byte 0xE9)');
    const list = await json<{ items: unknown[] }>(['users', 'list'], { cwd });
    expect(list.body.items).toEqual([]);
  });

  it('a bad YAML config is one line with file, line, column and reason; the code frame only with --verbose', async () => {
    const cwd = fresh();
    const file = join(cwd, 'quotaclock.config.yaml');
    writeFileSync(file, 'plans:\n  pro:\n    limits: { stock_reports: 45\ndefaultPlan: pro\n');
    const r = await runCli(['plans'], { cwd });
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^quotaclock: error: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not valid YAML: \\S`,
      ),
    );
    const verbose = await runCli(['plans', '--verbose'], { cwd });
    expect(verbose.code).toBe(2);
    expect(verbose.stderr.trimEnd().split('\n').length).toBeGreaterThan(2);
    expect(verbose.stderr).toContain('limits: { stock_reports: 45');
  });
});
