/**
 * Multi-process load on PostgreSQL: 8 OS processes, each with its own pool,
 * consume against the same 20 subjects while a reset crosses the month
 * boundary and a plan change runs. Afterwards verify is clean and no subject
 * was granted more than the limit in force.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI, ENGINES, POSTGRES_TEST_URL, TEST_CONFIG } from '../contract/engines.js';
import { ROOT, cleanEnv, ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';
import { createQuotaClock } from '../../src/quotaclock.js';

const postgres = ENGINES.find((e) => e.name === 'postgres')!;
const suite = postgres.missing === null || CI ? describe : describe.skip;
const schema = `qc_load_${process.pid}_${Date.now() % 100000}`;
const url = `${POSTGRES_TEST_URL}?schema=${schema}&pool=4`;
const config = { ...TEST_CONFIG, store: url };
const dir = tempDir('qc-load-');
const SUBJECTS = Array.from({ length: 20 }, (_, i) => `s${i}`);
const WORKERS = 8;
const NOV = '2026-11-01T00:20:00Z';

interface WorkerOut {
  results: { subject: string; granted: boolean; used?: number; limit?: number | null }[];
  errors: string[];
}

function worker(i: number): Promise<WorkerOut> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'test/helpers/pg-consume-worker.mjs')], {
      env: cleanEnv({
        QC_DIST: pathToFileURL(join(ROOT, 'dist/index.js')).href,
        QC_CONFIG: JSON.stringify(config),
        QC_SUBJECTS: SUBJECTS.join(','),
        QC_ROUNDS: '60',
        QC_NOW: NOV,
        QC_WORKER: String(i),
      }),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker ${i} exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as WorkerOut);
    });
  });
}

suite('8 processes consume on PostgreSQL during a reset and a plan change', () => {
  beforeAll(async () => {
    ensureBuilt();
    writeFileSync(join(dir, 'quotaclock.config.json'), JSON.stringify(config));
    const init = await runCli(['init'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    // October: every subject races for its 10 units, so the month to close is full.
    const qc = createQuotaClock({ config });
    const oct = Date.parse('2026-10-20T00:00:00Z');
    await Promise.all(
      SUBJECTS.flatMap((s) =>
        Array.from({ length: 12 }, () => qc.consume(s, 'stock_reports', 1, { now: oct })),
      ),
    );
    await qc.close();
  }, 60_000);

  afterAll(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('verify is clean and no subject is granted more than its limit', async () => {
    const [outs, reset, setPlan] = await Promise.all([
      Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i))),
      json<{ periods: { key: string; subjects: number; used: number }[] }>(
        ['reset', '--now', '2026-11-01T00:30:00Z'],
        { cwd: dir },
      ),
      runCli(['users', 'set-plan', 's0', 'pro', '--now', NOV], { cwd: dir }),
    ]);
    expect(reset.run.code, reset.run.stderr).toBe(0);
    expect(setPlan.code, setPlan.stderr).toBe(0);
    const oct = reset.body.periods.find((p) => p.key === '2026-10')!;
    expect(oct.subjects).toBe(SUBJECTS.length);
    expect(oct.used).toBe(SUBJECTS.length * 10);

    const errors = outs.flatMap((o) => o.errors);
    expect(errors).toEqual([]);
    const granted = new Map<string, number>();
    for (const r of outs.flatMap((o) => o.results)) {
      if (r.granted) granted.set(r.subject, (granted.get(r.subject) ?? 0) + 1);
      if (r.granted && r.limit !== null && r.limit !== undefined) {
        expect(r.used!).toBeLessThanOrEqual(r.limit);
      }
    }
    for (const s of SUBJECTS) {
      // s0 moved from free (10) to pro (45) during the run; the rest stayed on free.
      const limit = s === 's0' ? 45 : 10;
      expect(granted.get(s) ?? 0, s).toBeLessThanOrEqual(limit);
      const { body } = await json<{ features: { stock_reports: { used: number } } }>(
        ['status', s, '--now', '2026-11-15T00:00:00Z'],
        { cwd: dir },
      );
      // No lost update: what the processes were granted is what the store counted.
      expect(body.features.stock_reports.used, s).toBe(granted.get(s) ?? 0);
    }
    // 480 attempts at 20 subjects: the free ones must have hit their limit.
    expect(granted.get('s1')).toBe(10);
    const verify = await runCli(['verify', '--now', '2026-11-15T00:00:00Z'], { cwd: dir });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);
});
