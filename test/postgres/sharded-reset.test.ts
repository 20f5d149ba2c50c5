/**
 * `reset --shard i/n` on PostgreSQL: three worker processes close one month
 * at once. Every subject is closed exactly once, the period's ledger row is
 * marked closed once with the exact totals, and verify is clean. Also the
 * refusals: malformed values, --dry-run, and a store without sharded close.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI, ENGINES, POSTGRES_TEST_URL, TEST_CONFIG } from '../contract/engines.js';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { totalsOf } from '../../src/jobs/reset-report.js';
import type { CloseTotals } from '../../src/core/close-summary.js';

const postgres = ENGINES.find((e) => e.name === 'postgres')!;
const suite = postgres.missing === null || CI ? describe : describe.skip;
const SUBJECTS = 3000;
const schema = `qc_shard_${process.pid}_${Date.now() % 100000}`;
const url = `${POSTGRES_TEST_URL}?schema=${schema}`;
const dir = tempDir('qc-shard-');

suite('sharded reset on PostgreSQL', () => {
  let expectedUsed = 0;
  beforeAll(async () => {
    ensureBuilt();
    writeFileSync(
      join(dir, 'quotaclock.config.json'),
      JSON.stringify({ ...TEST_CONFIG, store: url, reset: { batchSize: 100 } }),
    );
    const init = await runCli(['init'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: url } });
    const ids = Array.from({ length: SUBJECTS }, (_, i) => `u${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(
        ids.slice(i, i + 100).map(async (id, j) => {
          const n = ((i + j) % 5) + 1;
          const r = await qc.consume(id, 'stock_reports', n, {
            now: Date.parse('2026-10-10T00:00:00Z'),
          });
          if (r.granted) expectedUsed += n;
        }),
      );
    }
    await qc.close();
  }, 120_000);

  afterAll(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('refuses malformed --shard values and --dry-run with exit 2, naming --shard', async () => {
    for (const bad of ['3/3', '1', 'a/b', '-1/3', '0/0', '1/2/3']) {
      const r = await runCli(['reset', '--shard', bad, '--now', '2026-11-01T01:00:00Z'], {
        cwd: dir,
      });
      expect(r.code, `${bad}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('--shard');
    }
    const dry = await runCli(
      ['reset', '--shard', '0/3', '--dry-run', '--now', '2026-11-01T01:00:00Z'],
      {
        cwd: dir,
      },
    );
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain('--dry-run');
  });

  it('refuses --shard on SQLite (shardedClose is false)', async () => {
    const sq = tempDir('qc-shard-sqlite-');
    // The database exists, so the refusal is the shard rule's, not "no database".
    expect((await runCli(['init', '--db', join(sq, 'q.db')], { cwd: sq })).code).toBe(0);
    const r = await runCli(
      ['reset', '--shard', '0/2', '--db', join(sq, 'q.db'), '--now', '2026-11-01T01:00:00Z'],
      { cwd: sq },
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--shard');
    expect(r.stderr).toContain('shardedClose');
  });

  it('three workers close every subject exactly once and mark the period closed once', async () => {
    const runs = await Promise.all(
      [0, 1, 2].map((k) =>
        json<{ outcome: string; periods: { key: string; subjects: number; status: string }[] }>(
          ['reset', '--shard', `${k}/3`, '--now', '2026-11-01T01:00:00Z'],
          { cwd: dir },
        ),
      ),
    );
    for (const r of runs) expect(r.run.code, r.run.stderr).toBe(0);
    const bySh = runs.map((r) => r.body.periods.find((p) => p.key === '2026-10')?.subjects ?? 0);
    expect(bySh.reduce((a, b) => a + b, 0)).toBe(SUBJECTS);
    expect(bySh.every((n) => n > 0)).toBe(true);
    const finals = runs.filter((r) =>
      r.body.periods.some((p) => p.key === '2026-10' && p.status === 'closed'),
    );
    expect(finals).toHaveLength(1);

    const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await c.connect();
    try {
      const cp = await c.query<{ n: string; d: string }>(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT subject_rid) AS d FROM ${schema}.closed_periods WHERE period_key = '2026-10'`,
      );
      expect(Number(cp.rows[0]!.n)).toBe(SUBJECTS);
      expect(Number(cp.rows[0]!.d)).toBe(SUBJECTS);
      const row = (
        await c.query<{ status: string; attempts: number; checkpoint: string }>(
          `SELECT status, attempts, checkpoint FROM ${schema}.runs WHERE key = '2026-10'`,
        )
      ).rows[0]!;
      expect(row.status).toBe('closed');
      expect(row.attempts).toBe(1);
      const checkpoint = JSON.parse(row.checkpoint) as { subjects: number; summary: CloseTotals };
      expect(checkpoint.subjects).toBe(SUBJECTS);
      expect(totalsOf(checkpoint.summary).used).toBe(expectedUsed);
      const shards = await c.query(
        `SELECT key FROM ${schema}.runs WHERE key LIKE '2026-10#shard-%' ORDER BY key`,
      );
      expect(shards.rows.map((r: { key: string }) => r.key)).toEqual([
        '2026-10#shard-0-of-3',
        '2026-10#shard-1-of-3',
        '2026-10#shard-2-of-3',
      ]);
    } finally {
      await c.end();
    }
    const runsOut = await json<{ runs?: { key: string; used?: number }[] }>(['runs'], { cwd: dir });
    expect(JSON.stringify(runsOut.body)).toContain('2026-10');
    const { body } = await json<{ periods: unknown[]; alreadyClosed: string[] }>(
      ['reset', '--now', '2026-11-01T01:00:00Z'],
      { cwd: dir },
    );
    expect(body.periods).toEqual([]);
    expect(body.alreadyClosed).toEqual(['2026-10']);
    const verify = await runCli(['verify', '--now', '2026-11-01T01:00:00Z'], { cwd: dir });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(expectedUsed).toBeGreaterThan(0);
  }, 120_000);
});
