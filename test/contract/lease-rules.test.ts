/**
 * The lease primitives on every engine, called directly: what currentLease
 * reports for an expired lease, and when takeOverLease refuses (nobody holds
 * the lease, someone else holds it, a second taker raced the first).
 */
import { expect, it } from 'vitest';
import { contract, type StoreContext } from './engines.js';

const TTL = 60_000;

/**
 * `holder` takes `name` through another store instance that then closes, so
 * the holder is gone however the engine tells (its session ended, or it is a
 * name no process here answers to).
 */
async function leftBy(ctx: StoreContext, name: string, holder: string, nowMs: number) {
  const other = await ctx.another();
  expect(await other.acquireLease(name, holder, TTL, nowMs)).not.toBeNull();
  await other.close();
}

contract('lease primitives', ({ useStore }) => {
  const ctx = useStore();

  it('currentLease reports an expired lease, with its expiry, until someone takes it', async () => {
    const { store } = ctx;
    const t = Date.now() - 10 * TTL;
    await store.acquireLease('expired', 'old-holder', TTL, t);
    expect(await store.currentLease('expired')).toMatchObject({
      name: 'expired',
      holder: 'old-holder',
      expiresMs: t + TTL,
    });
    const now = Date.now();
    expect(await store.acquireLease('expired', 'new-holder', TTL, now)).toMatchObject({
      holder: 'new-holder',
    });
    expect(await store.currentLease('expired')).toMatchObject({
      holder: 'new-holder',
      expiresMs: now + TTL,
    });
    await store.releaseLease('expired', 'new-holder');
  });

  it('takeOverLease refuses a lease nobody holds and creates none', async () => {
    const { store } = ctx;
    expect(await store.takeOverLease('nobody', 'ghost', 'me', TTL, Date.now())).toBeNull();
    expect(await store.currentLease('nobody')).toBeNull();
    // Released is the same as never held.
    await leftBy(ctx, 'released', 'gone', Date.now());
    await store.releaseLease('released', 'gone');
    expect(await store.takeOverLease('released', 'gone', 'me', TTL, Date.now())).toBeNull();
    expect(await store.currentLease('released')).toBeNull();
  });

  it('takeOverLease gives a lease to exactly one of several concurrent takers', async () => {
    const { store } = ctx;
    await leftBy(ctx, 'contested', 'departed', Date.now());
    const now = Date.now();
    const takers = Array.from({ length: 6 }, (_, i) => `taker-${i}`);
    const results = await Promise.all(
      takers.map((h) => store.takeOverLease('contested', 'departed', h, TTL, now)),
    );
    const won = results.filter((r) => r !== null);
    expect(won).toHaveLength(1);
    expect(won[0]).toMatchObject({ name: 'contested', expiresMs: now + TTL });
    expect((await store.currentLease('contested'))!.holder).toBe(won[0]!.holder);
    await store.releaseLease('contested', won[0]!.holder);
  });

  it('takeOverLease takes an expired lease from its holder, and the new expiry counts from now', async () => {
    const { store } = ctx;
    const long = Date.now() - 10 * TTL;
    await leftBy(ctx, 'stale', 'stale-holder', long);
    const now = Date.now();
    expect(await store.takeOverLease('stale', 'stale-holder', 'fresh', TTL, now)).toEqual({
      name: 'stale',
      holder: 'fresh',
      expiresMs: now + TTL,
    });
    expect(await store.renewLease('stale', 'stale-holder', TTL, now)).toBe(false);
    expect(await store.renewLease('stale', 'fresh', TTL, now + 1)).toBe(true);
    expect((await store.currentLease('stale'))!.expiresMs).toBe(now + 1 + TTL);
    await store.releaseLease('stale', 'fresh');
  });
});
