import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { QuotaStore } from '../store/quota-store.js';

export const RESET_LEASE = 'reset';

export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A lease held in the store. Lease expiry is measured on the wall clock, never
 * on --now: it is about whether a process is alive, not about business time.
 */
export class HeldLease {
  private lastRenewMs = Date.now();

  constructor(
    private readonly store: QuotaStore,
    readonly name: string,
    readonly holder: string,
    private readonly ttlMs: number,
  ) {}

  /** Renews when a third of the lease has passed; throws if another holder took it. */
  async keepAlive(): Promise<void> {
    const now = Date.now();
    if (now - this.lastRenewMs < this.ttlMs / 3) return;
    const ok = await this.store.renewLease(this.name, this.holder, this.ttlMs, now);
    if (!ok)
      throw new Error(`lost the "${this.name}" lease: another process took it after it expired`);
    this.lastRenewMs = now;
  }

  async release(): Promise<void> {
    await this.store.releaseLease(this.name, this.holder);
  }
}

/** True when a holder id names a process on this host that no longer exists. */
export function holderIsDeadHere(holder: string): boolean {
  const [host, pid] = holder.split(':');
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Waits up to waitMs for the lease; null if another live holder kept it all
 * that time. A holder on this host whose process is gone (kill -9, OOM) is
 * taken over at once instead of waiting for its lease to expire.
 */
export async function acquireLease(
  store: QuotaStore,
  opts: { name: string; holder: string; ttlMs: number; waitMs: number; pollMs?: number },
): Promise<HeldLease | null> {
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const got = await store.acquireLease(opts.name, opts.holder, opts.ttlMs, Date.now());
    if (got) return new HeldLease(store, opts.name, opts.holder, opts.ttlMs);
    const current = await store.currentLease?.(opts.name);
    if (current && store.takeOverLease && holderIsDeadHere(current.holder)) {
      const taken = await store.takeOverLease(
        opts.name,
        current.holder,
        opts.holder,
        opts.ttlMs,
        Date.now(),
      );
      if (taken) return new HeldLease(store, opts.name, opts.holder, opts.ttlMs);
    }
    if (Date.now() >= deadline) return null;
    await sleep(Math.min(opts.pollMs ?? 250, Math.max(10, deadline - Date.now())));
  }
}
