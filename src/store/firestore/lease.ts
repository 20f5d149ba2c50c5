import type { Lease, StoreLeases } from '../quota-store.js';
import { runTx } from './client.js';
import type { FsContext } from './context.js';

/**
 * The job's leases: one document per lease with its holder and an expiry,
 * each change one transaction. Firestore has no session to watch, so whether
 * a holder is alive is left to the holder id's host and pid (the caller's
 * check); a holder elsewhere is waited out until its lease expires.
 */
export class FsLease implements StoreLeases {
  constructor(private readonly ctx: FsContext) {}

  /** Takes the lease when it is free, expired, or already ours. */
  async acquireLease(
    name: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
  ): Promise<Lease | null> {
    const ref = this.ctx.leaseRef(name);
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      const cur = snap.exists ? snap.data()! : null;
      if (cur && cur.holder !== holder && Number(cur.expires_ms) > nowMs) return null;
      tx.set(ref, { name, holder, expires_ms: nowMs + ttlMs });
      return { name, holder, expiresMs: nowMs + ttlMs };
    });
  }

  async currentLease(name: string): Promise<Lease | null> {
    const snap = await this.ctx.leaseRef(name).get();
    if (!snap.exists) return null;
    const d = snap.data()!;
    return { name, holder: String(d.holder), expiresMs: Number(d.expires_ms) };
  }

  /**
   * Takes the lease from `from` only while `from` still holds it. A lease
   * nobody holds is refused, as the SQL engines refuse it: the caller read a
   * holder that has since let go, and acquires it again instead.
   */
  async takeOverLease(
    name: string,
    from: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
  ): Promise<Lease | null> {
    const ref = this.ctx.leaseRef(name);
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists || snap.data()!.holder !== from) return null;
      tx.set(ref, { name, holder, expires_ms: nowMs + ttlMs });
      return { name, holder, expiresMs: nowMs + ttlMs };
    });
  }

  async renewLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
    const ref = this.ctx.leaseRef(name);
    return runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists || snap.data()!.holder !== holder) return false;
      tx.update(ref, { expires_ms: nowMs + ttlMs });
      return true;
    });
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    const ref = this.ctx.leaseRef(name);
    await runTx(this.ctx.db, async (tx) => {
      const snap = await tx.get(ref);
      if (snap.exists && snap.data()!.holder === holder) tx.delete(ref);
    });
  }
}
