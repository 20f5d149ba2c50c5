import type { Lease, QuotaStore } from '../store/quota-store.js';
import { holderIsDeadHere } from './holder-id.js';

export { holderIsDeadHere, newHolderId } from './holder-id.js';

export const RESET_LEASE = 'reset';

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
    /** How long taking it took, from the first attempt. */
    readonly waitedMs = 0,
    /** The dead holder it was taken over from, if it was. */
    readonly takenOverFrom: string | null = null,
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

/**
 * Whether the holder of a lease is certainly dead: the store says so from the
 * holder's database session where it can tell (any host), otherwise the
 * holder id names a process on this host that is gone.
 */
export function holderIsGone(lease: Lease): boolean {
  return lease.holderAlive === undefined ? holderIsDeadHere(lease.holder) : !lease.holderAlive;
}

/**
 * Waits up to waitMs for the lease; null if another live holder kept it all
 * that time. A holder found dead (kill -9, OOM) is taken over at once instead
 * of waiting for its lease to expire.
 */
export async function acquireLease(
  store: QuotaStore,
  opts: { name: string; holder: string; ttlMs: number; waitMs: number; pollMs?: number },
): Promise<HeldLease | null> {
  const startedMs = Date.now();
  const deadline = startedMs + opts.waitMs;
  const held = (from: string | null) =>
    new HeldLease(store, opts.name, opts.holder, opts.ttlMs, Date.now() - startedMs, from);
  for (;;) {
    const got = await store.acquireLease(opts.name, opts.holder, opts.ttlMs, Date.now());
    if (got) return held(null);
    const current = await store.currentLease(opts.name);
    if (current && holderIsGone(current)) {
      const taken = await store.takeOverLease(
        opts.name,
        current.holder,
        opts.holder,
        opts.ttlMs,
        Date.now(),
      );
      if (taken) return held(current.holder);
    }
    if (Date.now() >= deadline) return null;
    await sleep(Math.min(opts.pollMs ?? 250, Math.max(10, deadline - Date.now())));
  }
}
