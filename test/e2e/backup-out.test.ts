import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('backup --out', () => {
  it('makes a missing folder, and --json prints the summary', async () => {
    const cwd = tempDir('qc-backup-');
    dirs.push(cwd);
    await runCli(['init'], { cwd });
    await runCli(['consume', 'alice', 'stock_reports'], { cwd });
    const { run, body } = await json<{ file: string; records: number; sha256: string }>(
      ['backup', '--out', 'backups/2026-12-06.jsonl'],
      { cwd },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(body).toMatchObject({
      file: 'backups/2026-12-06.jsonl',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(body.records).toBeGreaterThan(0);
    expect(readdirSync(join(cwd, 'backups'))).toEqual(['2026-12-06.jsonl']);
  });

  it('--json without --out is refused (stdout carries the backup itself), nothing written', async () => {
    const cwd = tempDir('qc-backup-');
    dirs.push(cwd);
    await runCli(['init'], { cwd });
    const r = await runCli(['backup', '--json'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--json: .*add --out <file>/);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'BAD_INPUT', where: '--json' } });
    expect(existsSync(join(cwd, 'backups'))).toBe(false);
  });
});
