import type { Lease, StoreLeases } from '../quota-store.js';
import type { Synchronous } from '../shared/compose-store.js';
import type { Db } from './connection.js';

/** The leases role: a row with an expiry, taken and renewed in one statement each. */
export class SqliteLeases implements Synchronous<StoreLeases> {
  constructor(private readonly db: Db) {}

  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Lease | null {
    const row = this.db
      .prepare(
        `INSERT INTO leases (name, holder, expires_ms) VALUES (@name, @holder, @expires)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
         WHERE leases.expires_ms <= @now OR leases.holder = excluded.holder
         RETURNING name, holder, expires_ms`,
      )
      .get({ name, holder, expires: nowMs + ttlMs, now: nowMs }) as
      { name: string; holder: string; expires_ms: number } | undefined;
    return row ? { name: row.name, holder: row.holder, expiresMs: row.expires_ms } : null;
  }

  currentLease(name: string): Lease | null {
    const row = this.db
      .prepare('SELECT name, holder, expires_ms FROM leases WHERE name = ?')
      .get(name) as { name: string; holder: string; expires_ms: number } | undefined;
    return row ? { name: row.name, holder: row.holder, expiresMs: row.expires_ms } : null;
  }

  takeOverLease(
    name: string,
    from: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
  ): Lease | null {
    const changed = this.db
      .prepare('UPDATE leases SET holder = ?, expires_ms = ? WHERE name = ? AND holder = ?')
      .run(holder, nowMs + ttlMs, name, from).changes;
    return changed === 1 ? { name, holder, expiresMs: nowMs + ttlMs } : null;
  }

  renewLease(name: string, holder: string, ttlMs: number, nowMs: number): boolean {
    return (
      this.db
        .prepare('UPDATE leases SET expires_ms = ? WHERE name = ? AND holder = ?')
        .run(nowMs + ttlMs, name, holder).changes === 1
    );
  }

  releaseLease(name: string, holder: string): void {
    this.db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }
}
