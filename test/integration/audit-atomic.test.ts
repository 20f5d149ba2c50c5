/**
 * The audit entry is written in the same transaction as the change it
 * records: when the entry cannot be written, the change is not made either.
 * A trigger makes every audit insert fail, on SQLite and on PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG, at, CI } from '../contract/engines.js';
import { postgresEngine, scratchSchema } from '../postgres/scratch-schema.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const NOV = at('2026-11-10T12:00:00Z');

async function refusedWritesChangeNothing(qc: QuotaClock, failAudit: () => Promise<void>) {
  await qc.addSubject({ id: 'atomic', email: 'a@example.com' }, { now: NOV });
  const key = await qc.keys.create({ name: 'kept', scopes: ['quota:read'] });
  await failAudit();
  await expect(qc.setPlan('atomic', 'pro', { now: NOV })).rejects.toThrow(/audit refused/);
  await expect(qc.suspend('atomic', 'x', { now: NOV })).rejects.toThrow(/audit refused/);
  await expect(qc.updateSubject('atomic', { email: 'b@example.com' })).rejects.toThrow(
    /audit refused/,
  );
  await expect(qc.addSubject({ id: 'atomic-2' }, { now: NOV })).rejects.toThrow(/audit refused/);
  await expect(qc.keys.create({ name: 'lost', scopes: ['quota:read'] })).rejects.toThrow(
    /audit refused/,
  );
  await expect(qc.keys.revoke(key.id)).rejects.toThrow(/audit refused/);
  expect(await qc.getSubject('atomic')).toMatchObject({
    plan: 'free',
    suspended: false,
    email: 'a@example.com',
  });
  await expect(qc.getSubject('atomic-2')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  expect((await qc.keys.list()).map((k) => [k.name, k.revokedAt])).toEqual([['kept', null]]);
  expect(await qc.keys.authenticate(key.key)).not.toBeNull();
}

describe('audit entries commit with their change [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qc-audit-atomic-'));
  const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: `sqlite:${join(dir, 'a.db')}` } });
  afterAll(async () => {
    await qc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a failed audit insert leaves the subject and the keys as they were', async () => {
    await qc.init();
    await refusedWritesChangeNothing(qc, async () => {
      const store = (await qc.store()) as SqliteStore;
      store.db.exec(
        `CREATE TRIGGER audit_refused BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END`,
      );
    });
  });
});

const pgSuite = postgresEngine.missing === null || CI ? describe : describe.skip;

pgSuite('audit entries commit with their change [postgres]', () => {
  let client: pg.Client | undefined;
  let qc: QuotaClock | undefined;
  let destroy: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await qc?.close();
    await client?.end();
    await destroy?.();
  });

  it('a failed audit insert leaves the subject and the keys as they were', async () => {
    const scratch = await scratchSchema();
    client = scratch.client;
    destroy = () => scratch.location.destroy();
    qc = createQuotaClock({ config: { ...TEST_CONFIG, store: scratch.location.url } });
    await qc.init();
    const s = `"${scratch.schema}"`;
    await refusedWritesChangeNothing(qc, async () => {
      await client!.query(`
        CREATE FUNCTION ${s}.audit_refused() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;
        CREATE TRIGGER audit_refused BEFORE INSERT ON ${s}.audit
          FOR EACH ROW EXECUTE FUNCTION ${s}.audit_refused();
      `);
    });
  });
});
