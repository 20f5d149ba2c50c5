/**
 * An install made before migration 3 (heap-only mark moves) upgrades with
 * `init` and closes its next period with the subjects it already had; one
 * made before migration 4 (lease holder sessions) keeps the lease a running
 * older quotaclock holds, and waits it out.
 * Skipped with its reason when PostgreSQL is missing; fails under CI=true.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG, at, CI, type StoreLocationHandle } from '../contract/engines.js';
import { postgresEngine, scratchSchema } from './scratch-schema.js';
import { parseConfig } from '../../src/config/parse.js';
import { runReset } from '../../src/jobs/reset.js';
import { createQuotaClock, policyFromConfig } from '../../src/quotaclock.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { acquireLease, newHolderId } from '../../src/jobs/lease.js';

const postgres = postgresEngine;
const NOV = at('2026-11-10T12:00:00Z');
const DEC2 = at('2026-12-02T00:00:00Z');
const policy = policyFromConfig(parseConfig(TEST_CONFIG));
const suite = postgres.missing === null || CI ? describe : describe.skip;
const LEASE_SESSIONS = PG_MIGRATIONS.find((m) => m.name === 'lease holder sessions')!.version;
const SERVICE = PG_MIGRATIONS.find((m) => m.name.startsWith('the service'))!.version;

suite(`postgres schema upgrade${postgres.missing ? ` (skipped: ${postgres.missing})` : ''}`, () => {
  let location: StoreLocationHandle;
  let store: QuotaStore;
  let client: pg.Client;
  let schema: string;

  beforeAll(async () => {
    ({ location, schema, client } = await scratchSchema());
    store = await location.open(policy);
  });
  afterAll(async () => {
    await store?.close();
    await client?.end();
    await location?.destroy();
  });

  /** Takes back what the service's migration (API keys, audit actors, search) added, so an older version can be replayed. */
  const undoServiceMigration = async (s: string) => {
    await client.query(`
      DROP TABLE ${s}.sessions;
      DROP TABLE ${s}.api_keys;
      DROP INDEX ${s}.audit_actor;
      DROP INDEX ${s}.audit_subject;
      ALTER TABLE ${s}.audit DROP COLUMN actor, DROP COLUMN before_json, DROP COLUMN after_json, DROP COLUMN reason;
      CREATE INDEX audit_subject ON ${s}.audit (subject);
      DROP INDEX ${s}.subjects_email;
      DROP INDEX ${s}.events_subject;
      ALTER TABLE ${s}.events DROP COLUMN fingerprint;
    `);
    await client.query(`DELETE FROM ${s}.schema_migrations WHERE version = $1`, [SERVICE]);
  };

  const subjectIndexes = async () =>
    (
      await client.query<{ indexname: string }>(
        'SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1',
        [schema, 'subjects'],
      )
    ).rows.map((r) => r.indexname);

  it('moves a version 2 schema with subjects to heap-only mark moves, and closes them', async () => {
    await store.migrate();
    const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: location.url }, store });
    await qc.importSubjects(
      [
        ...Array.from({ length: 20 }, (_, i) => ({ id: `u-${i}` })),
        { id: 'u-big', overrides: { stock_reports: 50 } },
      ],
      { now: NOV },
    );
    for (const id of ['u-0', 'u-7', 'u-big'])
      await qc.consume(id, 'stock_reports', 3, { now: NOV });
    // Put the schema back as version 2 left it, data and all.
    const s = `"${schema}"`;
    await client.query(`
      DROP INDEX ${s}.subjects_overridden;
      ALTER TABLE ${s}.subjects RESET (fillfactor);
      CREATE INDEX subjects_open_key ON ${s}.subjects (open_key, rid);
      CREATE INDEX subjects_open_end ON ${s}.subjects (open_end_ms);
      ALTER TABLE ${s}.leases DROP COLUMN holder_pid, DROP COLUMN holder_session_start;
      DELETE FROM ${s}.schema_migrations WHERE version >= 3;
    `);
    await undoServiceMigration(s);
    // A process started on the old schema refuses to work until init has run.
    const later = await location.open(policy);
    try {
      await expect(later.status('u-0', NOV)).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringContaining('quotaclock init'),
      });
      expect((await later.migrate()).applied).toEqual(
        PG_MIGRATIONS.filter((m) => m.version >= 3).map((m) => m.version),
      );
    } finally {
      await later.close();
    }

    expect(await subjectIndexes()).toEqual([
      'subjects_email',
      'subjects_id',
      'subjects_overridden',
      'subjects_pkey',
      'subjects_plan',
    ]);
    const options = await client.query<{ reloptions: string[] | null }>(
      `SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = 'subjects'`,
      [schema],
    );
    expect(options.rows[0]?.reloptions).toEqual(['fillfactor=50']);

    const report = await runReset(qc, { now: DEC2 });
    expect(report.periods.map((p) => [p.key, p.status, p.subjects, p.used])).toEqual([
      ['2026-11', 'closed', 21, 9],
    ]);
    expect((await qc.history('u-big')).filter((h) => h.closed).map((h) => h.key)).toEqual([
      '2026-11',
    ]);
    expect(await store.pendingPeriods(DEC2)).toEqual([]);
  });
  it('moves a schema from before lease holder sessions to them, keeping a lease an older version holds', async () => {
    const s = `"${schema}"`;
    const old = 'old-host:77:beef';
    await client.query(`
      ALTER TABLE ${s}.leases DROP COLUMN holder_pid, DROP COLUMN holder_session_start;
    `);
    await client.query(`DELETE FROM ${s}.schema_migrations WHERE version = $1`, [LEASE_SESSIONS]);
    await undoServiceMigration(s);
    await client.query(
      `INSERT INTO ${s}.leases (name, holder, expires_ms) VALUES ('reset', $1, $2)`,
      [old, Date.now() + 60_000],
    );
    const later = await location.open(policy);
    try {
      await expect(later.currentLease('reset')).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringContaining('quotaclock init'),
      });
      expect((await later.migrate()).applied).toEqual([LEASE_SESSIONS, SERVICE]);
      // Nothing says whether the old holder lives: its lease runs to its expiry.
      const cur = await later.currentLease('reset');
      expect(cur).toMatchObject({ holder: old });
      expect(cur!.holderAlive).toBeUndefined();
      const waited = await acquireLease(later, {
        name: 'reset',
        holder: newHolderId(),
        ttlMs: 60_000,
        waitMs: 300,
        pollMs: 50,
      });
      expect(waited).toBeNull();
      // Once it has expired, the next holder records its session.
      await client.query(`UPDATE ${s}.leases SET expires_ms = 0 WHERE name = 'reset'`);
      const me = newHolderId();
      const held = await acquireLease(later, {
        name: 'reset',
        holder: me,
        ttlMs: 60_000,
        waitMs: 0,
      });
      expect(held).not.toBeNull();
      expect(await later.currentLease('reset')).toMatchObject({ holder: me, holderAlive: true });
      await held!.release();
    } finally {
      await later.close();
    }
  });
});
