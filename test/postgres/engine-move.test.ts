/**
 * Moving between engines: `backup` from SQLite, `restore` into PostgreSQL,
 * `backup` again, `restore` into a fresh SQLite. `status --json` and
 * `history --json` agree for every subject in all three stores.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI, ENGINES, POSTGRES_TEST_URL, TEST_CONFIG } from '../contract/engines.js';
import { ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { runReset } from '../../src/jobs/reset.js';

const postgres = ENGINES.find((e) => e.name === 'postgres')!;
const suite = postgres.missing === null || CI ? describe : describe.skip;
const schema = `qc_move_${process.pid}_${Date.now() % 100000}`;
const dir = tempDir('qc-move-');
const SQLITE_A = `sqlite:${join(dir, 'a.db')}`;
const PG = `${POSTGRES_TEST_URL}?schema=${schema}`;
const SQLITE_B = `sqlite:${join(dir, 'b.db')}`;
const IDS = Array.from({ length: 36 }, (_, i) => `m${i}`);
const NOW = '2026-11-20T12:00:00Z';
const PLANS = ['free', 'pro', 'pro_plus', 'enterprise'];

async function cli(args: string[]) {
  const r = await runCli([...args, '--now', NOW], { cwd: dir });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

async function snapshot(db: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // A dozen CLI processes at a time; each answer is the CLI's own --json document.
  for (let i = 0; i < IDS.length; i += 12) {
    await Promise.all(
      IDS.slice(i, i + 12).map(async (id) => {
        const status = await json(['status', id, '--db', db, '--now', NOW], { cwd: dir });
        const history = await json(['history', id, '--db', db, '--now', NOW], { cwd: dir });
        expect(status.run.code, status.run.stderr).toBe(0);
        expect(history.run.code, history.run.stderr).toBe(0);
        out[id] = { status: status.body, history: history.body };
      }),
    );
  }
  return out;
}

suite('backup and restore move a store SQLite → PostgreSQL → SQLite unchanged', () => {
  beforeAll(async () => {
    ensureBuilt();
    writeFileSync(join(dir, 'quotaclock.config.json'), JSON.stringify(TEST_CONFIG));
    const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: SQLITE_A } });
    await qc.init();
    const months = ['2026-07-10', '2026-08-12', '2026-09-14', '2026-10-16', '2026-11-18'];
    for (const [i, id] of IDS.entries()) {
      await qc.addSubject(
        {
          id,
          plan: PLANS[i % PLANS.length]!,
          ...(i % 5 === 0 ? { timeZone: 'America/New_York' } : {}),
        },
        { now: Date.parse('2026-07-01T12:00:00Z') },
      );
    }
    for (const [m, day] of months.entries()) {
      const now = Date.parse(`${day}T12:00:00Z`);
      for (const [i, id] of IDS.entries()) {
        const n = ((i + m) % 4) + 1;
        for (let k = 0; k < n; k += 1) {
          await qc.consume(id, 'stock_reports', (k % 3) + 1, {
            now,
            key: `${id}-${m}-${k}`,
            meta: { ticker: 'ACME' },
          });
        }
        if (i % 3 === 0) await qc.consume(id, 'exports', 1, { now, key: `${id}-${m}-x` });
        if (i % 4 === 1) await qc.refund(id, `${id}-${m}-0`, { now });
      }
      if (m === 2) {
        await qc.setOverride('m7', 'stock_reports', 3, { now });
        await qc.setOverride('m8', 'exports', null, { now });
        await qc.resetSubject('m9', { now, reason: 'support ticket' });
      }
      if (m < months.length - 1) {
        await runReset(qc, { now: Date.parse(`${months[m + 1]!.slice(0, 7)}-02T12:00:00Z`) });
      }
    }
    await qc.suspend('m11', 'chargeback', { now: Date.parse(NOW) });
    await qc.setPlan('m12', 'pro_plus', { now: Date.parse(NOW) });
    await qc.close();
  }, 120_000);

  afterAll(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('gives identical status and history for every subject in all three stores', async () => {
    await cli(['backup', '--db', SQLITE_A, '--out', join(dir, 'a.jsonl')]);
    await cli(['init', '--db', PG]);
    await cli(['restore', join(dir, 'a.jsonl'), '--db', PG]);
    await cli(['backup', '--db', PG, '--out', join(dir, 'pg.jsonl')]);
    await cli(['init', '--db', SQLITE_B]);
    await cli(['restore', join(dir, 'pg.jsonl'), '--db', SQLITE_B]);

    const a = await snapshot(SQLITE_A);
    const p = await snapshot(PG);
    const b = await snapshot(SQLITE_B);
    // The data is rich enough to mean something: closed months, a suspension, an override.
    const m11 = a.m11 as { status: { suspended: unknown }; history: unknown[] };
    expect(m11.status.suspended).toBeTruthy();
    expect(JSON.stringify(a.m0)).toContain('2026-09');
    expect(p).toEqual(a);
    expect(b).toEqual(a);
  }, 240_000);
});
