import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../src/store/sqlite/driver.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());

async function withUsage(): Promise<string> {
  const cwd = tempDir();
  await runCli(['init'], { cwd });
  await runCli(
    [
      'users',
      'add',
      'p1',
      '--plan',
      'pro',
      '--time-zone',
      'America/New_York',
      '--email',
      'p1@example.com',
    ],
    { cwd },
  );
  for (const [id, month, n] of [
    ['p1', '08', 5],
    ['f1', '08', 10],
    ['f1', '09', 3],
    ['p1', '10', 7],
  ] as const) {
    await runCli(
      [
        'consume',
        id,
        'stock_reports',
        '--amount',
        String(n),
        '--key',
        `${id}-${month}`,
        '--now',
        `2026-${month}-15T12:00:00Z`,
      ],
      { cwd },
    );
  }
  await runCli(['refund', 'f1', '--key', 'f1-09', '--now', '2026-09-20T00:00:00Z'], { cwd });
  await runCli(['reset', '--now', '2026-10-02T00:00:00Z'], { cwd });
  return cwd;
}

describe('backup, restore, retention and manual resets', () => {
  it('backup then restore into a fresh database gives identical status, history and runs', async () => {
    const cwd = await withUsage();
    const out = join(cwd, 'backup.jsonl');
    const b = await json<{ records: number; sha256: string }>(['backup', '--out', out], { cwd });
    expect(b.run.code, b.run.stderr).toBe(0);
    expect(b.body.records).toBeGreaterThan(5);
    const target = join(cwd, 'restored.db');
    await runCli(['--db', target, 'init'], { cwd });
    const r = await runCli(['--db', target, 'restore', out], { cwd });
    expect(r.code, r.stderr).toBe(0);
    for (const args of [
      ['status', 'p1'],
      ['status', 'f1'],
      ['history', 'p1'],
      ['history', 'f1'],
      ['runs'],
      ['users', 'list'],
    ]) {
      const now = ['--now', '2026-10-20T00:00:00Z'];
      const a = await json([...args, ...now], { cwd });
      const c = await json(['--db', target, ...args, ...now], { cwd });
      expect(c.body, args.join(' ')).toEqual(a.body);
    }
    expect(
      (await runCli(['--db', target, 'verify', '--now', '2026-10-02T00:00:00Z'], { cwd })).code,
    ).toBe(0);
    // Restoring twice would duplicate everything: refused, nothing written.
    const again = await runCli(['--db', target, 'restore', out], { cwd });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty/);
  });

  it('refuses a corrupt or foreign backup and writes nothing', async () => {
    const cwd = await withUsage();
    const out = join(cwd, 'backup.jsonl');
    await runCli(['backup', '--out', out], { cwd });
    const lines = readFileSync(out, 'utf8').split('\n');
    const tampered = join(cwd, 'tampered.jsonl');
    const counterLine = lines.findIndex((l) => l.includes('"type":"counter"'));
    expect(counterLine).toBeGreaterThan(0);
    writeFileSync(
      tampered,
      lines.map((l, i) => (i === counterLine ? l.replace('"used":', '"used":1') : l)).join('\n'),
    );
    const truncated = join(cwd, 'truncated.jsonl');
    writeFileSync(truncated, lines.slice(0, -2).join('\n') + '\n');
    const foreign = join(cwd, 'v9.jsonl');
    writeFileSync(
      foreign,
      [lines[0]!.replace('"version":1', '"version":9'), ...lines.slice(1)].join('\n'),
    );
    for (const [file, message] of [
      [tampered, /checksum mismatch/],
      [truncated, /no footer|truncated/],
      [foreign, /version 9 is not supported/],
    ] as const) {
      const target = join(cwd, `t-${Math.random().toString(36).slice(2)}.db`);
      await runCli(['--db', target, 'init'], { cwd });
      const r = await runCli(['--db', target, 'restore', file], { cwd });
      expect(r.code, file).toBe(2);
      expect(r.stderr).toMatch(message);
      const db = new Database(target, { readonly: true });
      expect((db.prepare('SELECT COUNT(*) AS n FROM subjects').get() as { n: number }).n).toBe(0);
      db.close();
    }
  });

  it('retention prunes closed periods older than the configured number', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ retention: { periods: 2 } }),
    );
    await runCli(['init'], { cwd });
    for (const m of ['03', '04', '05', '06', '07']) {
      await runCli(['consume', 'r', 'stock_reports', '--now', `2026-${m}-10T00:00:00Z`], { cwd });
    }
    const reset = await json<{ pruned: { periods: number } }>(
      ['reset', '--now', '2026-08-01T00:01:00Z'],
      { cwd },
    );
    expect(reset.run.code).toBe(0);
    const h = await json<{ periods: Array<{ key: string }> }>(['history', 'r'], { cwd });
    // Current period 2026-08, keep two before it: 2026-06 and 2026-07.
    expect(h.body.periods.map((p) => p.key)).toEqual(['2026-07', '2026-06']);
    expect((await runCli(['verify', '--now', '2026-08-01T00:01:00Z'], { cwd })).code).toBe(0);
  });

  it('users reset --all is audited per subject and resumes instead of clearing twice', async () => {
    const cwd = tempDir();
    await runCli(['init'], { cwd });
    for (const id of ['a', 'b', 'c'])
      await runCli(
        ['consume', id, 'stock_reports', '--amount', '4', '--now', '2026-11-03T00:00:00Z'],
        { cwd },
      );
    const now = ['--now', '2026-11-10T00:00:00Z'];
    const dry = await json<{ subjects: number; cleared: Record<string, number> }>(
      ['users', 'reset', '--all', '--reason', 'incident 7', '--dry-run', ...now],
      { cwd },
    );
    expect(dry.body).toMatchObject({ subjects: 3, cleared: { stock_reports: 12 } });
    expect(
      (
        await json<{ features: { stock_reports: { used: number } } }>(['status', 'a', ...now], {
          cwd,
        })
      ).body.features.stock_reports.used,
    ).toBe(4);
    const first = await json(['users', 'reset', '--all', '--reason', 'incident 7', ...now], {
      cwd,
    });
    expect(first.body).toMatchObject({ subjects: 3, skipped: 0, cleared: { stock_reports: 12 } });
    await runCli(['consume', 'a', 'stock_reports', '--now', '2026-11-11T00:00:00Z'], { cwd });
    const rerun = await json(
      ['users', 'reset', '--all', '--reason', 'incident 7', '--now', '2026-11-12T00:00:00Z'],
      { cwd },
    );
    expect(rerun.body).toMatchObject({ subjects: 0, skipped: 3, cleared: {} });
    expect(
      (
        await json<{ features: { stock_reports: { used: number } } }>(
          ['status', 'a', '--now', '2026-11-12T00:00:00Z'],
          { cwd },
        )
      ).body.features.stock_reports.used,
    ).toBe(1);
    const db = new Database(join(cwd, 'quotaclock.db'), { readonly: true });
    expect(
      (
        db.prepare(`SELECT COUNT(*) AS n FROM audit WHERE action = 'subject.reset'`).get() as {
          n: number;
        }
      ).n,
    ).toBe(3);
    db.close();
    expect((await runCli(['verify', '--now', '2026-11-12T00:00:00Z'], { cwd })).code).toBe(0);
  });
});
