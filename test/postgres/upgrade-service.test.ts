/**
 * A database made before the service's migration upgrades with `init`:
 * its audit entries keep their history under the new action names, its keyed
 * consumes still replay, and keys, sessions, search and fingerprints work.
 * Skipped with its reason when PostgreSQL is missing; fails under CI=true.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG, at, CI, type StoreLocationHandle } from '../contract/engines.js';
import { postgresEngine, scratchSchema } from './scratch-schema.js';
import { parseConfig } from '../../src/config/parse.js';
import { createQuotaClock, policyFromConfig } from '../../src/quotaclock.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import type { QuotaStore } from '../../src/store/quota-store.js';

const NOV = at('2026-11-10T12:00:00Z');
const policy = policyFromConfig(parseConfig(TEST_CONFIG));
const suite = postgresEngine.missing === null || CI ? describe : describe.skip;
// Found by name, so the test survives renumbering when other migrations land first.
const SERVICE_VERSION = PG_MIGRATIONS.find((m) => m.name.startsWith('the service'))!.version;

suite(
  `postgres upgrade to the service schema${postgresEngine.missing ? ` (skipped: ${postgresEngine.missing})` : ''}`,
  () => {
    let location: StoreLocationHandle;
    let client: pg.Client;
    let schema: string;
    const opened: QuotaStore[] = [];

    beforeAll(async () => {
      ({ location, schema, client } = await scratchSchema());
    });
    afterAll(async () => {
      for (const s of opened) await s.close();
      await client?.end();
      await location?.destroy();
    });

    it('upgrades a database from the migration before the service, with data in place', async () => {
      const s = `"${schema}"`;
      // The schema as the last release left it, written by its own migrations.
      await client.query(`CREATE SCHEMA ${s}`);
      await client.query(
        `CREATE TABLE ${s}.schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
      );
      for (const m of PG_MIGRATIONS.filter((m) => m.version < SERVICE_VERSION)) {
        await client.query(m.sql(s));
        await client.query(
          `INSERT INTO ${s}.schema_migrations VALUES ($1, $2, '2026-01-01T00:00:00Z')`,
          [m.version, m.name],
        );
      }
      // Rows as the old code wrote them: a subject, a keyed consume and its counter, old audit entries.
      await client.query(`
        INSERT INTO ${s}.subjects (id, plan, overrides, anchor_ms, email, created_ms, closed_through_ms, open_end_ms, open_key)
        VALUES ('old-1', 'pro', '{}', ${NOV}, 'Old.One@example.com', ${NOV}, ${at('2026-11-01T00:00:00Z')}, ${at('2026-12-01T00:00:00Z')}, '2026-11');
        INSERT INTO ${s}.counters VALUES (1, ${at('2026-11-01T00:00:00Z')}, 'stock_reports', ${at('2026-12-01T00:00:00Z')}, '2026-11', 2);
        INSERT INTO ${s}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
        VALUES (1, 'consume', 'stock_reports', ${at('2026-11-01T00:00:00Z')}, ${at('2026-12-01T00:00:00Z')}, ${NOV}, 2, 2, 2, 45, 'old-key',
          '{"granted":true,"used":2,"limit":45,"remaining":43,"period":{"key":"2026-11","start":"2026-11-01T00:00:00.000Z","end":"2026-12-01T00:00:00.000Z"}}', NULL);
        INSERT INTO ${s}.audit (at_ms, action, subject, detail) VALUES
          (${NOV}, 'subject.add', 'old-1', '{"plan":"free"}'),
          (${NOV + 1}, 'subject.set_plan', 'old-1', '{"plan":"pro"}');
      `);

      const store = await location.open(policy);
      opened.push(store);
      // A process on the old schema refuses work until init has run.
      await expect(store.listAudit()).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringContaining('quotaclock init'),
      });
      const fresh = await location.open(policy);
      opened.push(fresh);
      expect((await fresh.migrate()).applied).toEqual([SERVICE_VERSION]);
      expect((await fresh.migrate()).applied).toEqual([]);
      const qc = createQuotaClock({
        config: { ...TEST_CONFIG, store: location.url },
        store: fresh,
      });

      // Old entries: new action names, actor cli, their detail as the after value.
      const audit = await qc.audit.list({ subject: 'old-1' });
      expect(audit.items.map((e) => [e.action, e.actor, e.after])).toEqual([
        ['plan.set', 'cli', { plan: 'pro' }],
        ['subject.create', 'cli', { plan: 'free' }],
      ]);
      // The old keyed consume replays, with or without a fingerprint (it stored none).
      expect(
        await qc.consume('old-1', 'stock_reports', 2, {
          key: 'old-key',
          fingerprint: 'F',
          now: NOV,
        }),
      ).toMatchObject({ replayed: true, used: 2 });
      // New work on the upgraded schema.
      const k = await qc.keys.create({ name: 'after-upgrade', scopes: ['quota:write'] });
      expect(await qc.keys.authenticate(k.key)).toMatchObject({ id: k.id });
      await qc.consume('old-1', 'stock_reports', 1, { key: 'new-key', fingerprint: 'A', now: NOV });
      await expect(
        qc.consume('old-1', 'stock_reports', 1, { key: 'new-key', fingerprint: 'B', now: NOV }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
      expect((await qc.listSubjects({ q: 'Old.One@' })).items.map((x) => x.id)).toEqual(['old-1']);
      expect((await qc.subjectEvents('old-1')).items.map((e) => e.key)).toEqual([
        'new-key',
        'old-key',
      ]);

      const indexes = (
        await client.query<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname IN
             ('subjects_email', 'events_subject', 'audit_subject', 'audit_actor', 'api_keys_prefix') ORDER BY 1`,
          [schema],
        )
      ).rows.map((r) => r.indexname);
      expect(indexes).toEqual([
        'api_keys_prefix',
        'audit_actor',
        'audit_subject',
        'events_subject',
        'subjects_email',
      ]);
      // The email branch of the search is an index range, not a walk of every subject.
      await client.query(`
        INSERT INTO ${s}.subjects (id, plan, overrides, anchor_ms, email, created_ms, closed_through_ms, open_end_ms, open_key)
        SELECT 'bulk-' || g, 'free', '{}', ${NOV}, 'bulk-' || g || '@example.com', ${NOV}, 0, 0, '2026-11'
        FROM generate_series(1, 20000) g;
        ANALYZE ${s}.subjects;
      `);
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN WITH m AS MATERIALIZED (SELECT id FROM ${s}.subjects WHERE email COLLATE "C" >= 'Old.' AND email COLLATE "C" < 'Old.\u{10FFFF}')
         SELECT id FROM m WHERE id > '' ORDER BY id LIMIT 21`,
      );
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('subjects_email');
    });
  },
);
