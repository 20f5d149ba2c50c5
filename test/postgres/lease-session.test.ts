/**
 * PostgreSQL tells a dead lease holder from a live one by the holder's own
 * lease session, recorded with the row: the backend's pid and start time.
 * These are the cases the contract suite cannot reach: a reused pid, a
 * session that broke and came back, the session's life span, and leases
 * taken before the sessions were recorded.
 * Skipped with its reason when PostgreSQL is missing; fails under CI=true.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG, CI, type StoreLocationHandle } from '../contract/engines.js';
import { postgresEngine, scratchSchema } from './scratch-schema.js';
import { parseConfig } from '../../src/config/parse.js';
import { acquireLease, newHolderId } from '../../src/jobs/lease.js';
import { policyFromConfig } from '../../src/quotaclock.js';
import { terminatePostgresSessions } from '../../src/store/postgres/index.js';
import type { QuotaStore } from '../../src/store/quota-store.js';

const policy = policyFromConfig(parseConfig(TEST_CONFIG));
const suite = postgresEngine.missing === null || CI ? describe : describe.skip;
const TTL = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

suite(
  `postgres lease sessions${postgresEngine.missing ? ` (skipped: ${postgresEngine.missing})` : ''}`,
  () => {
    let location: StoreLocationHandle;
    let store: QuotaStore;
    let client: pg.Client;
    let schema: string;

    beforeAll(async () => {
      ({ location, schema, client } = await scratchSchema());
      store = await location.open(policy);
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await client?.end();
      await location?.destroy();
    });

    const row = async (name: string) =>
      (
        await client.query<{ holder: string; holder_pid: number | null }>(
          `SELECT holder, holder_pid FROM "${schema}".leases WHERE name = $1`,
          [name],
        )
      ).rows[0];
    const backendExists = async (pid: number) =>
      (await client.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 1;

    it("records the holder's own session, not a pooled one, and ends it with the last lease", async () => {
      const other = await location.open(policy);
      try {
        const a = newHolderId();
        const b = newHolderId();
        await other.acquireLease('one', a, TTL, Date.now());
        await other.acquireLease('two', b, TTL, Date.now());
        const pid = (await row('one'))!.holder_pid!;
        expect((await row('two'))!.holder_pid).toBe(pid);
        // Idle pooled connections come and go; the lease session stays while a lease is held.
        await other.status('nobody', Date.now()).catch(() => undefined);
        await other.releaseLease('one', a);
        expect(await backendExists(pid)).toBe(true);
        expect((await store.currentLease('two'))!.holderAlive).toBe(true);
        await other.releaseLease('two', b);
        for (let i = 0; i < 100 && (await backendExists(pid)); i += 1) await sleep(20);
        expect(await backendExists(pid)).toBe(false);
      } finally {
        await other.close();
      }
    });

    it('a pid that a new backend reuses does not keep a dead holder alive', async () => {
      const other = await location.open(policy);
      try {
        const holder = newHolderId();
        await other.acquireLease('reused', holder, TTL, Date.now());
        expect((await store.currentLease('reused'))!.holderAlive).toBe(true);
        // As if the recorded backend had ended and a new one got its pid: same pid, another start.
        await client.query(
          `UPDATE "${schema}".leases SET holder_session_start = holder_session_start - interval '1 hour' WHERE name = 'reused'`,
        );
        expect((await store.currentLease('reused'))!.holderAlive).toBe(false);
        const me = newHolderId();
        const held = await acquireLease(store, {
          name: 'reused',
          holder: me,
          ttlMs: TTL,
          waitMs: 5000,
        });
        expect(held?.takenOverFrom).toBe(holder);
        await held!.release();
      } finally {
        await other.close();
      }
    });

    it('after its session broke, a renewal records the new one; until then a rival may take over', async () => {
      const holder = newHolderId();
      await store.acquireLease('broken', holder, TTL, Date.now());
      const before = (await row('broken'))!.holder_pid!;
      // A server restart or failover ends every session of this store.
      expect(await terminatePostgresSessions(location.url)).toBeGreaterThan(0);
      for (let i = 0; i < 100 && (await backendExists(before)); i += 1) await sleep(20);
      expect((await store.currentLease('broken'))!.holderAlive).toBe(false);
      expect(await store.renewLease('broken', holder, TTL, Date.now())).toBe(true);
      const after = (await row('broken'))!.holder_pid!;
      expect(after).not.toBe(before);
      expect((await store.currentLease('broken'))!.holderAlive).toBe(true);

      // Had a rival come first, the holder's renewal would fail and its run stop.
      await terminatePostgresSessions(location.url);
      for (let i = 0; i < 100 && (await backendExists(after)); i += 1) await sleep(20);
      const rival = await location.open(policy);
      try {
        const taken = await acquireLease(rival, {
          name: 'broken',
          holder: newHolderId(),
          ttlMs: TTL,
          waitMs: 5000,
        });
        expect(taken?.takenOverFrom).toBe(holder);
        expect(await store.renewLease('broken', holder, TTL, Date.now())).toBe(false);
        await taken!.release();
      } finally {
        await rival.close();
      }
    });

    it('a lease taken before sessions were recorded is waited out, not judged alive or dead', async () => {
      const old = 'old-host:1:cafe';
      await client.query(
        `INSERT INTO "${schema}".leases (name, holder, expires_ms) VALUES ('legacy', $1, $2)`,
        [old, Date.now() + TTL],
      );
      const cur = await store.currentLease('legacy');
      expect(cur).toMatchObject({ holder: old });
      expect(cur!.holderAlive).toBeUndefined();
      expect(
        await acquireLease(store, {
          name: 'legacy',
          holder: newHolderId(),
          ttlMs: TTL,
          waitMs: 300,
          pollMs: 50,
        }),
      ).toBeNull();
      expect((await store.currentLease('legacy'))!.holder).toBe(old);
    });
  },
);
