/**
 * A SQLite file made before the service's migration upgrades with
 * `init`: its audit entries keep their history under the new action names,
 * its keyed consumes still replay, and keys, search and fingerprints work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG, at } from '../contract/engines.js';
import { parseConfig } from '../../src/config/parse.js';
import { createQuotaClock, policyFromConfig } from '../../src/quotaclock.js';
import { openStore } from '../../src/store/open-store.js';
import { Database } from '../../src/store/sqlite/driver.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import type { QuotaStore } from '../../src/store/quota-store.js';

const NOV = at('2026-11-10T12:00:00Z');
const START = at('2026-11-01T00:00:00Z');
const END = at('2026-12-01T00:00:00Z');
// Found by name, so the test survives renumbering when other migrations land first.
const SERVICE_VERSION = SQLITE_MIGRATIONS.find((m) => m.name.startsWith('the service'))!.version;
const policy = policyFromConfig(parseConfig(TEST_CONFIG));

describe('sqlite upgrade to the service schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qc-upgrade-'));
  const path = join(dir, 'old.db');
  const opened: QuotaStore[] = [];
  afterAll(async () => {
    for (const s of opened) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a file from the migration before the service, with data in place', async () => {
    const old = new Database(path);
    old.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version < SERVICE_VERSION)) {
      old.exec(m.sql);
      old
        .prepare(`INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')`)
        .run(m.version, m.name);
    }
    old.exec(`
      INSERT INTO subjects (id, plan, overrides, anchor_ms, email, created_ms, closed_through_ms, open_end_ms, open_key)
      VALUES ('old-1', 'pro', '{}', ${NOV}, 'Old.One@example.com', ${NOV}, ${START}, ${END}, '2026-11');
      INSERT INTO counters VALUES (1, ${START}, 'stock_reports', ${END}, '2026-11', 2);
      INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
      VALUES (1, 'consume', 'stock_reports', ${START}, ${END}, ${NOV}, 2, 2, 2, 45, 'old-key',
        '{"granted":true,"used":2,"limit":45,"remaining":43,"period":{"key":"2026-11","start":"2026-11-01T00:00:00.000Z","end":"2026-12-01T00:00:00.000Z"}}', NULL);
      INSERT INTO audit (at_ms, action, subject, detail) VALUES
        (${NOV}, 'subject.add', 'old-1', '{"plan":"free"}'),
        (${NOV + 1}, 'subject.set_plan', 'old-1', '{"plan":"pro"}');
    `);
    old.close();

    // create: false is how the CLI opens a store (only init may change it); the
    // library's default open upgrades an embedded file by itself instead.
    const stale = await openStore({ engine: 'sqlite', path }, policy, { create: false });
    opened.push(stale);
    await expect(stale.listAudit()).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('quotaclock init'),
    });
    const store = await openStore({ engine: 'sqlite', path }, policy, { create: false });
    opened.push(store);
    expect((await store.migrate()).applied).toEqual([SERVICE_VERSION]);
    expect((await store.migrate()).applied).toEqual([]);
    const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: `sqlite:${path}` }, store });

    const audit = await qc.audit.list({ subject: 'old-1' });
    expect(audit.items.map((e) => [e.action, e.actor, e.after])).toEqual([
      ['plan.set', 'cli', { plan: 'pro' }],
      ['subject.create', 'cli', { plan: 'free' }],
    ]);
    expect(
      await qc.consume('old-1', 'stock_reports', 2, { key: 'old-key', fingerprint: 'F', now: NOV }),
    ).toMatchObject({ replayed: true, used: 2 });
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

    // The email branch of the search and the ledger walk their indexes.
    const db = new Database(path, { readonly: true });
    try {
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>)
          .map((r) => r.detail)
          .join('\n');
      expect(
        plan(
          `SELECT id FROM subjects INDEXED BY subjects_email WHERE email >= 'a' AND email < 'b' AND id > '' ORDER BY id LIMIT 21`,
        ),
      ).toContain('subjects_email');
      expect(
        plan(`SELECT id FROM events WHERE subject_rid = 1 AND id < 99 ORDER BY id DESC LIMIT 21`),
      ).toMatch(/events_subject|INTEGER PRIMARY KEY/);
    } finally {
      db.close();
    }
  });
});
