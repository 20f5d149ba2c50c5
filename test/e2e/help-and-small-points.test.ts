import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function fresh(): string {
  const d = tempDir('qc-help-');
  dirs.push(d);
  return d;
}

describe('help', () => {
  it('--help into a pipe that closes early (| head) exits 0 without an EPIPE crash', async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first write
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => done({ code, stderr }));
    });
    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe(0);
  });

  it('--version prints the package version', async () => {
    const cwd = fresh();
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it.each(['users', 'notify', 'schedule'])('"%s --help" has examples', async (group) => {
    const r = await runCli([group, '--help'], { cwd: fresh() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Examples:\\n(  \\$ quotaclock ${group} .+\\n)+`));
  });

  it('a subcommand’s help lists the global --db, --json and --now its examples use', async () => {
    const r = await runCli(['users', 'list', '--help'], { cwd: fresh() });
    expect(r.stdout).toMatch(/Global Options:/);
    for (const flag of ['--db <url>', '--json', '--now <iso>']) expect(r.stdout).toContain(flag);
  });
});

describe('smaller points', () => {
  it('reset --execute explains that resets are real by default and --dry-run is the other way', async () => {
    const cwd = fresh();
    const r = await runCli(['reset', '--execute'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--execute: not needed, quotaclock resets for real by default.*--dry-run/,
    );
    expect(r.stderr).not.toMatch(/unknown option/);
  });

  it('re-importing an unchanged file reports 0 updated', async () => {
    const cwd = fresh();
    writeFileSync(join(cwd, 'users.csv'), 'id,plan,email\nalice,pro,a@example.com\nbob,free,\n');
    const first = await json<{ added: number; updated: number; unchanged: number }>(
      ['users', 'import', 'users.csv'],
      { cwd },
    );
    expect(first.body).toMatchObject({ added: 2, updated: 0, unchanged: 0 });
    const again = await json(['users', 'import', 'users.csv'], { cwd });
    expect(again.body).toMatchObject({ added: 0, updated: 0, unchanged: 2 });
    const text = await runCli(['users', 'import', 'users.csv'], { cwd });
    expect(text.stdout).toMatch(/0 added, 0 updated, 2 unchanged/);
    writeFileSync(
      join(cwd, 'users.csv'),
      'id,plan,email\nalice,pro_plus,a@example.com\nbob,free,\n',
    );
    const changed = await json(['users', 'import', 'users.csv', '--dry-run'], { cwd });
    expect(changed.body).toMatchObject({ added: 0, updated: 1, unchanged: 1 });
  });

  it('init names the database it touched', async () => {
    const cwd = fresh();
    const r = await runCli(['init', '--db', 'data/q.db'], { cwd });
    expect(r.stdout).toContain(`sqlite ${join(cwd, 'data', 'q.db')}: applied migration(s)`);
    const again = await json<{ database: string }>(['init', '--db', 'data/q.db'], { cwd });
    expect(again.body.database).toBe(join(cwd, 'data', 'q.db'));
  });

  it('plans print in their configured order, in plans and in the reset summary', async () => {
    const cwd = fresh();
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({
        plans: {
          starter: { limits: { r: 1 } },
          business: { limits: { r: 5 } },
          agency: { limits: { r: null } },
        },
        defaultPlan: 'starter',
      }),
    );
    const plans = await runCli(['plans'], { cwd });
    expect(
      plans.stdout
        .split('\n')
        .slice(1, 4)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['starter', 'business', 'agency']);
    await runCli(['init'], { cwd });
    writeFileSync(join(cwd, 'u.csv'), 'id,plan\na,agency\nb,business\nc,starter\n');
    await runCli(['users', 'import', 'u.csv', '--now', '2026-10-02T00:00:00Z'], { cwd });
    for (const id of ['a', 'b', 'c'])
      await runCli(['consume', id, 'r', '--now', '2026-10-15T00:00:00Z'], { cwd });
    const reset = await runCli(['reset', '--now', '2026-11-01T00:01:00Z'], { cwd });
    expect(reset.code, reset.stderr).toBe(0);
    const order = reset.stdout
      .split('\n')
      .filter((l) => /^ {4}\w+ +r:/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(order).toEqual(['starter', 'business', 'agency']);
  });
});
