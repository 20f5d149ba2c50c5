import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../src/store/sqlite/driver.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, json, runCli, startCli, tempDir } from '../helpers/cli.js';
import { seedSubjects } from '../helpers/seed.js';

beforeAll(() => ensureBuilt());

interface ResetBody {
  dryRun: boolean;
  outcome: string;
  periods: Array<{
    key: string;
    start: string;
    end: string;
    status: string;
    subjects: number;
    used: number;
    summary: unknown;
  }>;
  alreadyClosed: string[];
}

async function setup(): Promise<string> {
  const cwd = tempDir();
  await runCli(['init'], { cwd });
  return cwd;
}

describe('quotaclock reset', () => {
  it('closes the month, history shows it, and a second run says "already closed" with exit 0', async () => {
    const cwd = await setup();
    for (const [id, n] of [
      ['a', 3],
      ['b', 10],
    ] as const) {
      await runCli(
        ['consume', id, 'stock_reports', '--amount', String(n), '--now', '2026-10-20T10:00:00Z'],
        { cwd },
      );
    }
    const first = await json<ResetBody>(['reset', '--now', '2026-11-01T00:01:00Z'], { cwd });
    expect(first.run.code, first.run.stderr).toBe(0);
    expect(first.body.periods).toHaveLength(1);
    expect(first.body.periods[0]).toMatchObject({
      key: '2026-10',
      status: 'closed',
      subjects: 2,
      used: 13,
      start: '2026-10-01T00:00:00.000Z',
      end: '2026-11-01T00:00:00.000Z',
    });
    expect(first.body.periods[0]!.summary).toEqual({
      free: { stock_reports: { subjects: 2, used: 13, atLimit: 1 } },
    });
    const history = await json<{
      periods: Array<{
        key: string;
        closed: boolean;
        plan: string;
        features: Record<string, { used: number; limit: number }>;
      }>;
    }>(['history', 'b'], { cwd });
    expect(history.body.periods[0]).toMatchObject({
      key: '2026-10',
      closed: true,
      plan: 'free',
      features: { stock_reports: { used: 10, limit: 10 } },
    });

    const second = await runCli(['reset', '--now', '2026-11-01T00:05:00Z'], { cwd });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/2026-10: already closed/);
    const runs = await json<{ runs: Array<{ key: string; status: string; attempts: number }> }>(
      ['runs'],
      { cwd },
    );
    expect(runs.body.runs).toEqual([
      expect.objectContaining({ key: '2026-10', status: 'closed', attempts: 1 }),
    ]);
  });

  it('catches up three missed months in one run, oldest first', async () => {
    const cwd = await setup();
    await runCli(
      ['consume', 'c', 'stock_reports', '--amount', '4', '--now', '2026-07-15T00:00:00Z'],
      { cwd },
    );
    await runCli(
      ['consume', 'c', 'stock_reports', '--amount', '2', '--now', '2026-08-15T00:00:00Z'],
      { cwd },
    );
    const r = await json<ResetBody>(['reset', '--now', '2026-10-02T00:00:00Z'], { cwd });
    expect(r.run.code).toBe(0);
    expect(r.body.periods.map((p) => [p.key, p.used])).toEqual([
      ['2026-07', 4],
      ['2026-08', 2],
      ['2026-09', 0],
    ]);
    const v = await runCli(['verify', '--now', '2026-10-02T00:00:00Z'], { cwd });
    expect(v.code, v.stdout).toBe(0);
  });

  it('a dry run writes nothing and reports exactly what the real run then does', async () => {
    const cwd = await setup();
    await seedSubjects(join(cwd, 'quotaclock.db'), 300, {
      at: '2026-08-10T00:00:00Z',
      usedEvery: 2,
    });
    await runCli(['consume', 's0000001', 'stock_reports', '--now', '2026-09-03T00:00:00Z'], {
      cwd,
    });
    const now = ['--now', '2026-10-01T00:01:00Z'];
    const before = await Promise.all([
      json(['status', 's0000001', ...now], { cwd }),
      json(['runs'], { cwd }),
      json(['history', 's0000001'], { cwd }),
    ]);
    const fileBefore = readFileSync(join(cwd, 'quotaclock.db'));
    const dry = await json<ResetBody>(['reset', '--dry-run', ...now], { cwd });
    expect(dry.run.code).toBe(0);
    expect(dry.body.dryRun).toBe(true);
    const after = await Promise.all([
      json(['status', 's0000001', ...now], { cwd }),
      json(['runs'], { cwd }),
      json(['history', 's0000001'], { cwd }),
    ]);
    expect(after.map((a) => a.body)).toEqual(before.map((b) => b.body));
    expect(readFileSync(join(cwd, 'quotaclock.db')).equals(fileBefore)).toBe(true);
    const real = await json<ResetBody>(['reset', ...now], { cwd });
    const strip = (b: ResetBody) =>
      b.periods.map(({ key, subjects, used, summary }) => ({ key, subjects, used, summary }));
    expect(strip(real.body)).toEqual(strip(dry.body));
    expect(real.body.periods.map((p) => p.key)).toEqual(['2026-08', '2026-09']);
  });

  it('two resets started at once: one does the work, the other waits and finds it done; neither fails', async () => {
    const cwd = await setup();
    await seedSubjects(join(cwd, 'quotaclock.db'), 2000, {
      at: '2026-10-10T00:00:00Z',
      usedEvery: 3,
    });
    const args = ['reset', '--json', '--now', '2026-11-01T00:01:00Z'];
    const [a, b] = await Promise.all([runCli(args, { cwd }), runCli(args, { cwd })]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const bodies = [JSON.parse(a.stdout) as ResetBody, JSON.parse(b.stdout) as ResetBody];
    const workers = bodies.filter((x) => x.periods.length > 0);
    expect(workers).toHaveLength(1);
    expect(workers[0]!.periods[0]!.subjects).toBe(2000);
    const idle = bodies.find((x) => x.periods.length === 0)!;
    expect(idle.alreadyClosed).toEqual(['2026-10']);
    const db = new Database(join(cwd, 'quotaclock.db'), { readonly: true });
    expect((db.prepare('SELECT COUNT(*) AS n FROM closed_periods').get() as { n: number }).n).toBe(
      2000,
    );
    db.close();
  });

  it('consumes running during a reset are never lost', async () => {
    const cwd = await setup();
    const dbPath = join(cwd, 'quotaclock.db');
    await seedSubjects(dbPath, 5000, { at: '2026-10-10T00:00:00Z', usedEvery: 1 });
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ reset: { batchSize: 200 } }),
    );
    const reset = runCli(['reset', '--now', '2026-11-01T00:01:00Z'], { cwd });
    const consumers = Array.from({ length: 3 }, (_, w) =>
      (async () => {
        let granted = 0;
        for (let i = 0; i < 15; i += 1) {
          const r = await runCli(
            [
              'consume',
              `s000000${w}`,
              'stock_reports',
              '--now',
              i % 2 ? '2026-10-31T23:59:00Z' : '2026-11-01T00:02:00Z',
            ],
            { cwd },
          );
          if (r.code === 0) granted += 1;
        }
        return granted;
      })(),
    );
    expect((await reset).code).toBe(0);
    await Promise.all(consumers);
    const v = await json<{ violations: Array<{ kind: string; message: string }> }>(
      ['verify', '--now', '2026-11-01T00:10:00Z'],
      { cwd },
    );
    // Nothing lost: every counter still equals its events. A consume stamped 23:59 that
    // arrived after its subject's October closed is reported as such, and only that.
    const late = v.body.violations.filter((x) => x.kind === 'usage_after_close');
    expect(v.body.violations.filter((x) => x.kind !== 'usage_after_close')).toEqual([]);
    for (const x of late)
      expect(x.message).toMatch(/^period 2026-10: \d+ stock_reports recorded after/);
  });

  it('refuses to close a period that has not ended on the wall clock, unless --force', async () => {
    const cwd = await setup();
    await runCli(['users', 'add', 'w', '--now', '2026-10-10T00:00:00Z'], { cwd });
    const ahead = new Date(Date.now() + 3 * 86_400_000 * 31).toISOString();
    const refused = await runCli(['reset', '--now', ahead], { cwd });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/--now: .* end after the wall clock .* --force/);
    const runs = await json<{ runs: unknown[] }>(['runs'], { cwd });
    expect(runs.body.runs).toEqual([]);
    const bulk = await runCli(['users', 'reset', '--all', '--now', ahead], { cwd });
    expect(bulk.code, bulk.stderr).toBe(2);
    expect(bulk.stderr).toMatch(/--now: .* is after the wall clock/);
    const forced = await json<ResetBody>(['reset', '--now', ahead, '--force'], { cwd });
    expect(forced.run.code, forced.run.stderr).toBe(0);
    expect(forced.body.periods.length).toBeGreaterThan(0);
  });

  it('kill -9 in the middle of a large reset, then a rerun: complete and exactly once', async () => {
    const cwd = await setup();
    const dbPath = join(cwd, 'quotaclock.db');
    const { used } = await seedSubjects(dbPath, 30_000, {
      at: '2026-10-10T00:00:00Z',
      usedEvery: 1,
    });
    writeFileSync(
      join(cwd, 'quotaclock.config.json'),
      JSON.stringify({ reset: { batchSize: 250 } }),
    );
    const now = ['--now', '2026-11-01T00:01:00Z'];
    const child = startCli(['reset', ...now], { cwd });
    // Kill once at least one batch has committed and before the run can finish.
    const probe = new Database(dbPath, { readonly: true });
    const closedSoFar = () =>
      (probe.prepare('SELECT COUNT(*) AS n FROM closed_periods').get() as { n: number }).n;
    const deadline = Date.now() + 30_000;
    while (closedSoFar() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const atKill = closedSoFar();
    probe.close();
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(30_000);

    const rerun = await json<ResetBody>(['reset', ...now], { cwd });
    expect(rerun.run.code, rerun.run.stderr).toBe(0);
    const db = new Database(dbPath, { readonly: true });
    expect((db.prepare('SELECT COUNT(*) AS n FROM closed_periods').get() as { n: number }).n).toBe(
      30_000,
    );
    expect(
      (
        db.prepare(`SELECT COUNT(*) AS n FROM subjects WHERE open_key = '2026-11'`).get() as {
          n: number;
        }
      ).n,
    ).toBe(30_000);
    const run = db.prepare(`SELECT status, checkpoint FROM runs WHERE key = '2026-10'`).get() as {
      status: string;
      checkpoint: string;
    };
    db.close();
    expect(run.status).toBe('closed');
    const cp = JSON.parse(run.checkpoint) as {
      subjects: number;
      summary: Record<string, Record<string, { used: number }>>;
    };
    // The ledger counts every subject exactly once across the killed run and the rerun.
    expect(cp.subjects).toBe(30_000);
    const ledgerUsed = Object.values(cp.summary).reduce((n, f) => n + f.stock_reports!.used, 0);
    expect(ledgerUsed).toBe(used);
    const v = await runCli(['verify', ...now], { cwd });
    expect(v.code, v.stdout).toBe(0);
  }, 180_000);

  it('writes JSON log lines to stderr and the rotating log file; failures are findable with grep -i error', async () => {
    const cwd = await setup();
    await runCli(['consume', 'a', 'stock_reports', '--now', '2026-10-20T10:00:00Z'], { cwd });
    const r = await runCli(
      [
        'reset',
        '--now',
        '2026-11-01T00:01:00Z',
        '--log-file',
        join(cwd, 'logs', 'quota_reset.log'),
      ],
      { cwd },
    );
    expect(r.code).toBe(0);
    const files = readdirSync(join(cwd, 'logs'));
    const current = readFileSync(join(cwd, 'logs', 'current.log'), 'utf8');
    expect(files.some((f) => /^quota_reset\..*\.log$/.test(f))).toBe(true);
    expect(current).toMatch(/"msg":"reset finished"/);
    expect(current).toMatch(/"msg":"period closed"/);
    // With a log file, stderr keeps only what needs attention: no second copy of the info lines.
    expect(r.stderr).not.toMatch(/"level":"info"/);
    const plain = await runCli(['reset', '--now', '2026-11-01T00:02:00Z'], { cwd });
    const lines = plain.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.map((l) => l.msg)).toContain('reset finished');
    const bad = await runCli(
      ['reset', '--force-period', 'October', '--log-file', join(cwd, 'logs', 'quota_reset.log')],
      { cwd },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n').filter((l) => /error/i.test(l)).length).toBeGreaterThan(0);
  });

  it('never prints a secret', async () => {
    const cwd = await setup();
    const secrets = {
      SMTP_PASSWORD: 'hunter2-smtp-secret',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXXsecretpath',
    };
    const outputs: string[] = [];
    for (const args of [
      ['reset', '--now', '2026-11-01T00:01:00Z'],
      ['status', 'x', '--json'],
      ['verify', '--json'],
      ['--db', 'postgres://admin:pg-pass-s3cret@127.0.0.1:1/nowhere', 'status', 'x', '--json'],
      ['--db', 'postgres://admin:pg-pass-s3cret@127.0.0.1:1/nowhere', 'init'],
    ]) {
      const r = await runCli(args, { cwd, env: { ...secrets, QUOTACLOCK_LOG_LEVEL: 'debug' } });
      outputs.push(r.stdout, r.stderr);
    }
    const all = outputs.join('\n');
    for (const s of ['hunter2-smtp-secret', 'XXXXsecretpath', 'pg-pass-s3cret'])
      expect(all).not.toContain(s);
  });
});
