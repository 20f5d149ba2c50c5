import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
async function initialised(): Promise<string> {
  const cwd = tempDir('qc-ghost-');
  dirs.push(cwd);
  expect((await runCli(['init'], { cwd })).code).toBe(0);
  return cwd;
}

describe('an unknown subject', () => {
  it('status is exit 2 "no such subject", and invents nothing', async () => {
    const cwd = await initialised();
    const r = await runCli(['status', 'ghost'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no such subject "ghost"');
    expect(r.stdout).toBe('');
    const asJson = await json<{ error: { code: string } }>(['status', 'ghost'], { cwd });
    expect(asJson.run.code).toBe(2);
    expect(asJson.body.error.code).toBe('SUBJECT_NOT_FOUND');
    // Reading created nobody.
    const list = await json<{ items: unknown[] }>(['users', 'list'], { cwd });
    expect(list.body.items).toEqual([]);
  });

  it('status --as-new shows what a new subject would get, marked as such', async () => {
    const cwd = await initialised();
    const r = await runCli(['status', 'ghost', '--as-new'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no such subject yet/);
    const { body } = await json<{
      plan: string;
      features: Record<string, { used: number; limit: number }>;
    }>(['status', 'ghost', '--as-new'], { cwd });
    expect(body.plan).toBe('free');
    expect(body.features.stock_reports).toMatchObject({ used: 0, limit: 10 });
  });

  it('a consume that creates the subject says so in the log at info', async () => {
    const cwd = await initialised();
    const r = await runCli(['consume', 'alcie', 'stock_reports', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    JSON.parse(r.stdout);
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; subject?: string });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        subject: 'alcie',
        msg: expect.stringMatching(/created on first consume/),
      }),
    );
    // The second consume finds the subject: no second line.
    const again = await runCli(['consume', 'alcie', 'stock_reports'], { cwd });
    expect(again.stderr).not.toMatch(/created on first consume/);
    expect(readdirSync(cwd)).toContain('quotaclock.db');
  });
});
