/**
 * Lease liveness on every engine: a holder that died (kill -9, OOM) is taken
 * over at once, and a live holder never is. What "died" means is the
 * engine's capability: 'session' stores see the holder's own database
 * session (any host); 'process' stores only know a holder on this host
 * (the same pid namespace) whose pid is gone.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { acquireLease, holderIsDeadHere, newHolderId } from '../../src/jobs/lease.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { contract, type StoreContext } from './engines.js';

const TTL = 60_000;

/** The pid of a process that has exited (nothing reuses it within a test). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

/** A holder id from this host and pid namespace, for process `pid`. */
function holderHere(pid: number): string {
  const [host, , random, space] = newHolderId().split(':');
  return `${host}:${pid}:${random}:${space}`;
}

/**
 * Puts `name` in the hands of a holder that has died, the way the engine can
 * tell: a store instance that took it and closed (its session ended), or a
 * holder id naming a process on this host that has exited.
 */
async function deadHolder(ctx: StoreContext, name: string, holder: string): Promise<void> {
  if (ctx.store.capabilities.leaseLiveness === 'session') {
    const other = await ctx.another();
    expect(await other.acquireLease(name, holder, TTL, Date.now())).not.toBeNull();
    await other.close();
  } else {
    expect(holderIsDeadHere(holder)).toBe(true);
    expect(await ctx.store.acquireLease(name, holder, TTL, Date.now())).not.toBeNull();
  }
}

/** A holder whose store is open (its session exists) and whose process (this one) runs. */
async function liveHolder(ctx: StoreContext, name: string, holder: string): Promise<QuotaStore> {
  const other = await ctx.another();
  expect(await other.acquireLease(name, holder, TTL, Date.now())).not.toBeNull();
  return other;
}

contract('reset job: lease takeover', ({ useStore }) => {
  const ctx = useStore();

  it('currentLease reads the holder and expiry, expired or not, and null once released', async () => {
    const { store } = ctx;
    expect(await store.currentLease('cur')).toBeNull();
    const t = Date.now() - 120_000;
    const holder = newHolderId();
    await store.acquireLease('cur', holder, TTL, t);
    const cur = await store.currentLease('cur');
    expect(cur).toMatchObject({ name: 'cur', holder, expiresMs: t + TTL });
    // A session store knows its own session is alive; the others cannot tell.
    expect(cur!.holderAlive).toBe(
      store.capabilities.leaseLiveness === 'session' ? true : undefined,
    );
    await store.releaseLease('cur', holder);
    expect(await store.currentLease('cur')).toBeNull();
  });

  it('takeOverLease takes the lease only from its current holder', async () => {
    const { store } = ctx;
    const dead = holderHere(await deadPid());
    await deadHolder(ctx, 'take', dead);
    const me = newHolderId();
    const now = Date.now();
    expect(await store.takeOverLease('take', 'somebody-else', me, TTL, now)).toBeNull();
    expect((await store.currentLease('take'))!.holder).toBe(dead);
    expect(await store.takeOverLease('take', dead, me, TTL, now)).toEqual({
      name: 'take',
      holder: me,
      expiresMs: now + TTL,
    });
    const cur = await store.currentLease('take');
    expect(cur!.holder).toBe(me);
    // The old holder can neither renew nor release what is no longer its lease.
    expect(await store.renewLease('take', dead, TTL, Date.now())).toBe(false);
    await store.releaseLease('take', dead);
    expect((await store.currentLease('take'))!.holder).toBe(me);
    // Taking over from the same dead holder again finds it gone.
    expect(await store.takeOverLease('take', dead, newHolderId(), TTL, now)).toBeNull();
    expect(await store.renewLease('take', me, TTL, Date.now())).toBe(true);
    await store.releaseLease('take', me);
    expect(await store.currentLease('take')).toBeNull();
  });

  it('takes over at once a holder that died, long before its lease expires', async () => {
    const { store } = ctx;
    // On a session store the dead holder even ran on "another host".
    const dead =
      store.capabilities.leaseLiveness === 'session'
        ? 'elsewhere:4242:feedbeef:000000000000'
        : holderHere(await deadPid());
    await deadHolder(ctx, 'dead', dead);
    const cur = await store.currentLease('dead');
    expect(cur!.holder).toBe(dead);
    expect(cur!.expiresMs).toBeGreaterThan(Date.now() + TTL / 2);
    if (store.capabilities.leaseLiveness === 'session') expect(cur!.holderAlive).toBe(false);
    const me = newHolderId();
    const started = Date.now();
    const held = await acquireLease(store, {
      name: 'dead',
      holder: me,
      ttlMs: TTL,
      waitMs: 30_000,
    });
    expect(held).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await store.currentLease('dead'))!.holder).toBe(me);
    await held!.release();
  });

  it('never takes over a live holder, and waits for it instead', async () => {
    const { store } = ctx;
    const alive = newHolderId(); // this process, which is running
    const other = await liveHolder(ctx, 'live', alive);
    try {
      const started = Date.now();
      const held = await acquireLease(store, {
        name: 'live',
        holder: newHolderId(),
        ttlMs: TTL,
        waitMs: 600,
        pollMs: 50,
      });
      expect(held).toBeNull();
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
      const cur = await store.currentLease('live');
      expect(cur!.holder).toBe(alive);
      if (store.capabilities.leaseLiveness === 'session') {
        expect(cur!.holderAlive).toBe(true);
        // The store refuses too, in the same statement that would take it.
        expect(await store.takeOverLease('live', alive, newHolderId(), TTL, Date.now())).toBeNull();
        expect((await store.currentLease('live'))!.holder).toBe(alive);
      }
      expect(await other.renewLease('live', alive, TTL, Date.now())).toBe(true);
    } finally {
      await other.releaseLease('live', alive);
    }
  });

  it('never judges a holder dead by a pid that means nothing here', async () => {
    const { store } = ctx;
    const pid = await deadPid();
    const session = store.capabilities.leaseLiveness === 'session';
    // 'session': the pid of this host is gone, but the holder's session is open: the session decides.
    // 'process': the pid is gone here, but the holder ran in another host or container.
    const holder = session
      ? holderHere(pid)
      : `${holderHere(pid).split(':').slice(0, 3).join(':')}:0123456789ab`;
    const other = session ? await liveHolder(ctx, 'elsewhere', holder) : store;
    if (!session) await store.acquireLease('elsewhere', holder, TTL, Date.now());
    try {
      const held = await acquireLease(store, {
        name: 'elsewhere',
        holder: newHolderId(),
        ttlMs: TTL,
        waitMs: 300,
        pollMs: 50,
      });
      expect(held).toBeNull();
      expect((await store.currentLease('elsewhere'))!.holder).toBe(holder);
    } finally {
      await other.releaseLease('elsewhere', holder);
    }
  });
});
