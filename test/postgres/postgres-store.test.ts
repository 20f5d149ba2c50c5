/**
 * PostgreSQL-only behaviour that the engine-neutral contract suite cannot
 * express: URL options, concurrent migrations, and sessions the server kills.
 * Skipped with its reason when PostgreSQL is missing; fails under CI=true.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, TEST_CONFIG, at, CI } from '../contract/engines.js';
import { parseConfig } from '../../src/config/parse.js';
import { createQuotaClock, policyFromConfig } from '../../src/quotaclock.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from '../../src/store/postgres/migrations.js';
import { parsePostgresUrl, terminatePostgresSessions } from '../../src/store/postgres/index.js';

const postgres = ENGINES.find((e) => e.name === 'postgres')!;
const NOW = at('2026-11-10T12:00:00Z');
const policy = policyFromConfig(parseConfig(TEST_CONFIG));

describe('postgres URL options', () => {
  it('reads schema and pool size and strips them from the driver URL', () => {
    const o = parsePostgresUrl(
      'postgres://u:secret@db:5433/app?schema=tenant_a&pool=32&sslmode=disable',
    );
    expect(o).toMatchObject({ schema: 'tenant_a', poolSize: 32 });
    expect(o.connectionString).toBe('postgres://u:secret@db:5433/app?sslmode=disable');
    expect(parsePostgresUrl('postgresql://db/app')).toMatchObject({
      schema: 'quotaclock',
      poolSize: 10,
      grantSlots: 1,
      closeParallel: 2,
    });
    expect(parsePostgresUrl('postgres://db/app?pool=1&close_parallel=4')).toMatchObject({
      closeParallel: 4,
    });
    expect(parsePostgresUrl('postgres://db/app?pool=1')).toMatchObject({ closeParallel: 1 });
  });

  it('refuses bad options by name, without echoing the URL', () => {
    for (const url of [
      'postgres://u:secret@db/app?schema=Drop;Table',
      'postgres://u:secret@db/app?pool=0',
      'postgres://u:secret@db/app?pool=ten',
      'postgres://u:secret@db/app?statement_timeout=-1',
      'postgres://u:secret@db/app?close_parallel=0',
      'postgres://u:secret@db/app?grant_slots=many',
    ]) {
      let err: unknown;
      try {
        parsePostgresUrl(url);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'BAD_INPUT' });
      expect((err as Error).message).not.toContain('secret');
    }
  });
});

const suite = postgres.missing === null ? describe : CI ? describe : describe.skip;

suite(`postgres store${postgres.missing ? ` (skipped: ${postgres.missing})` : ''}`, () => {
  if (postgres.missing !== null && CI) {
    it('needs PostgreSQL under CI=true', () => {
      throw new Error(`PostgreSQL is missing and CI=true: ${postgres.missing}`);
    });
    return;
  }
  let location: Awaited<ReturnType<typeof postgres.create>>;
  const open: QuotaStore[] = [];
  const another = async () => {
    const s = await location.open(policy);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    location = await postgres.create();
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await location.destroy();
  });

  it('says to run init before the schema exists', async () => {
    const store = await another();
    await expect(store.status('x', NOW)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('quotaclock init'),
    });
  });

  it('migrates once when several processes run init at the same time', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => another()));
    const results = await Promise.all(stores.map((s) => s.migrate()));
    const all = PG_MIGRATIONS.map((m) => m.version);
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(all);
    for (const r of results) expect(r.current).toBe(PG_SCHEMA_VERSION);
    expect((await stores[0]!.migrate()).applied).toEqual([]);
  });

  it('carries on after the server ends its sessions', async () => {
    const store = await another();
    const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: location.url }, store });
    await Promise.all(
      [1, 2, 3, 4].map((i) => qc.consume(`kill-${i}`, 'stock_reports', 1, { now: NOW })),
    );
    expect(await terminatePostgresSessions(location.url)).toBeGreaterThan(0);
    // Idempotent work retries on a fresh connection.
    expect(
      await qc.consume('kill-1', 'stock_reports', 1, { now: NOW, key: 'after-kill' }),
    ).toMatchObject({
      granted: true,
    });
    expect((await qc.status('kill-2', { now: NOW })).features.stock_reports?.used).toBe(1);
    await terminatePostgresSessions(location.url);
    // A consume without a key is retried only if it certainly did not reach the server;
    // otherwise it reports that it may or may not have counted. It never counts twice.
    const outcome = await qc.consume('kill-3', 'stock_reports', 1, { now: NOW }).then(
      (r) => r.granted,
      (e: { code?: string; message: string }) => {
        expect(e.code).toBe('STORE_UNAVAILABLE');
        expect(e.message).toContain('may or may not');
        return 'unknown';
      },
    );
    expect([true, 'unknown']).toContain(outcome);
    await new Promise((r) => setTimeout(r, 50));
    expect(await qc.consume('kill-4', 'stock_reports', 1, { now: NOW })).toMatchObject({
      granted: true,
    });
    const violations = await store.verify(NOW);
    expect(violations.filter((v) => v.kind === 'counter_mismatch')).toEqual([]);
  });
});
