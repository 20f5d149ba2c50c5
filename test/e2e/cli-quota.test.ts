import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../src/store/sqlite/driver.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());

describe('quotaclock CLI: quotas', () => {
  it('grants 10 reports on free, refuses the 11th with exit 3, and starts fresh after the boundary with no reset', async () => {
    const cwd = tempDir();
    expect((await runCli(['init'], { cwd })).code).toBe(0);
    for (let i = 1; i <= 10; i += 1) {
      const r = await runCli(
        [
          'consume',
          'alice',
          'stock_reports',
          '--now',
          `2026-10-${String(i + 5).padStart(2, '0')}T12:00:00Z`,
        ],
        { cwd },
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const eleventh = await json(
      ['consume', 'alice', 'stock_reports', '--now', '2026-10-31T23:59:59.999Z'],
      { cwd },
    );
    expect(eleventh.run.code).toBe(3);
    expect(eleventh.body).toMatchObject({
      granted: false,
      used: 10,
      limit: 10,
      remaining: 0,
      reason: 'quota_exceeded',
    });

    const after = await json(
      ['consume', 'alice', 'stock_reports', '--now', '2026-11-01T00:00:00.000Z'],
      { cwd },
    );
    expect(after.run.code).toBe(0);
    expect(after.body).toMatchObject({
      granted: true,
      used: 1,
      limit: 10,
      remaining: 9,
      period: {
        key: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
      },
    });
    const runs = await json<{ runs: unknown[] }>(['runs'], { cwd });
    expect(runs.body.runs).toEqual([]);
  });

  it('prints the status JSON shape with null for unlimited', async () => {
    const cwd = tempDir();
    await runCli(['init'], { cwd });
    await runCli(['users', 'add', 'ent', '--plan', 'enterprise'], { cwd });
    const s = await json(['status', 'ent', '--now', '2026-11-26T10:00:00Z'], { cwd });
    expect(s.run.code).toBe(0);
    expect(s.body).toEqual({
      subject: 'ent',
      plan: 'enterprise',
      suspended: false,
      suspendedReason: null,
      period: {
        key: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
      },
      timeZone: 'UTC',
      // From 2026-11-26T10:00Z to the end of November.
      secondsLeft: (4 * 24 + 14) * 3600,
      features: { stock_reports: { limit: null, used: 0, remaining: null, unlimited: true } },
    });
  });

  it('exit 4 when suspended, exit 2 on bad input naming the flag, idempotent keys count once', async () => {
    const cwd = tempDir();
    await runCli(['init'], { cwd });
    const first = await json(
      [
        'consume',
        'bob',
        'stock_reports',
        '--key',
        'r-1',
        '--meta',
        'ticker=AAPL',
        '--meta',
        'generation_time_ms=1200',
      ],
      { cwd },
    );
    const retry = await json(['consume', 'bob', 'stock_reports', '--key', 'r-1'], { cwd });
    expect(first.body).toMatchObject({ granted: true, used: 1 });
    expect(retry.body).toMatchObject({ granted: true, used: 1, replayed: true });
    const bad = await runCli(['consume', 'bob', 'stock_reports', '--amount', '-2'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--amount/);
    const badFeature = await runCli(['consume', 'bob', 'reports'], { cwd });
    expect(badFeature.code).toBe(2);
    expect(badFeature.stderr).toMatch(/unknown feature "reports"/);
    const badNow = await runCli(['status', 'bob', '--now', 'yesterday'], { cwd });
    expect(badNow.code).toBe(2);
    expect(badNow.stderr).toMatch(/--now/);
    expect(
      (await runCli(['users', 'suspend', 'bob', '--reason', 'chargeback'], { cwd })).code,
    ).toBe(0);
    const refused = await json(['consume', 'bob', 'stock_reports'], { cwd });
    expect(refused.run.code).toBe(4);
    expect(refused.body).toMatchObject({ granted: false, reason: 'suspended' });
    const refund = await json(['refund', 'bob', '--key', 'r-1'], { cwd });
    expect(refund.body).toMatchObject({ refunded: true, amount: 1, used: 0 });
    const db = new Database(join(cwd, 'quotaclock.db'), { readonly: true });
    const sum = db.prepare(`SELECT SUM(delta) AS s FROM events`).get() as { s: number };
    const used = db.prepare(`SELECT SUM(used) AS u FROM counters`).get() as { u: number };
    db.close();
    expect(sum.s).toBe(used.u);
    const verify = await runCli(['verify'], { cwd });
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('refuses a CSV with a bad row, naming the line, and imports nothing', async () => {
    const cwd = tempDir();
    await runCli(['init'], { cwd });
    const file = join(cwd, 'users.csv');
    writeFileSync(
      file,
      'id,plan,time_zone,email\nu1,free,,u1@example.com\nu2,gold,,u2@example.com\nu3,pro,Mars/Base,u3@example.com\n',
    );
    const r = await runCli(['users', 'import', file], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 3: .*unknown plan "gold"/);
    expect(r.stderr).toMatch(/line 4: .*Mars\/Base/);
    const list = await json<{ items: unknown[] }>(['users', 'list'], { cwd });
    expect(list.body.items).toEqual([]);
    writeFileSync(
      file,
      'id,plan,time_zone,email\nu1,free,,u1@example.com\nu2,pro,Europe/Berlin,u2@example.com\n',
    );
    const ok = await json(['users', 'import', file], { cwd });
    expect(ok.run.code).toBe(0);
    expect(ok.body).toMatchObject({ added: 2, updated: 0 });
  });

  it('refuses a bad config file naming the path, with no write', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ plans: { pro: { limits: { stock_reports: -5 } } }, defaultPlan: 'pro' }),
    );
    const r = await runCli(['init'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plans\.pro\.limits\.stock_reports: expected integer ≥ 0 or null/);
  });

  it('every command has --help with an example', async () => {
    const cwd = tempDir();
    for (const cmd of [
      ['init'],
      ['consume'],
      ['status'],
      ['reset'],
      ['verify'],
      ['users', 'import'],
      ['users', 'reset'],
      ['backup'],
      ['restore'],
      ['demo'],
    ]) {
      const r = await runCli([...cmd, '--help'], { cwd });
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(/Examples:\n\s+\$ /);
    }
  });
});
