import type { Lease, StoreLeases } from '../quota-store.js';
import { LeaseSession } from './lease-session.js';
import type { PgDb } from './pool.js';

/** The session running the statement, as recorded with the lease row. */
const THIS_SESSION = `pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())`;

/**
 * Whether the session recorded with lease row `l` still exists. The start
 * time tells a reused pid apart; it reads as NULL for another role's
 * sessions without pg_read_all_stats, and then the pid alone decides. A row
 * with no session recorded (taken by an older quotaclock) is not known alive.
 */
const HOLDER_ALIVE = `EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.holder_pid
  AND (a.backend_start IS NULL OR l.holder_session_start IS NULL OR a.backend_start = l.holder_session_start))`;

interface LeaseRow {
  name: string;
  holder: string;
  expires_ms: number;
}

const toLease = (r: LeaseRow): Lease => ({
  name: r.name,
  holder: r.holder,
  expiresMs: r.expires_ms,
});

/**
 * The job's leases: a row with an expiry, plus the holder's lease session,
 * so a holder that died is taken over at once from any host.
 */
export class PgLease implements StoreLeases {
  private readonly session: LeaseSession;

  constructor(private readonly db: PgDb) {
    this.session = new LeaseSession(db);
  }

  private get s() {
    return this.db.s;
  }

  /** Takes the lease when it is free, expired, or already ours; one statement, so two callers cannot both win. */
  async acquireLease(
    name: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
  ): Promise<Lease | null> {
    const res = await this.session.query<LeaseRow>(
      `INSERT INTO ${this.s}.leases AS l (name, holder, expires_ms, holder_pid, holder_session_start)
       VALUES ($1, $2, $3, ${THIS_SESSION})
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms,
         holder_pid = excluded.holder_pid, holder_session_start = excluded.holder_session_start
       WHERE l.expires_ms <= $4 OR l.holder = excluded.holder
       RETURNING name, holder, expires_ms`,
      [name, holder, nowMs + ttlMs, nowMs],
    );
    return this.took(res.rows[0]);
  }

  async currentLease(name: string): Promise<Lease | null> {
    const res = await this.db.query<LeaseRow & { recorded: boolean; alive: boolean }>(
      `SELECT name, holder, expires_ms, holder_pid IS NOT NULL AS recorded, ${HOLDER_ALIVE} AS alive
       FROM ${this.s}.leases l WHERE name = $1`,
      [name],
    );
    const row = res.rows[0];
    if (!row) return null;
    return row.recorded ? { ...toLease(row), holderAlive: row.alive } : toLease(row);
  }

  /** Takes the lease from `from`, in one statement, only while `from` holds it and its session is gone. */
  async takeOverLease(
    name: string,
    from: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
  ): Promise<Lease | null> {
    const res = await this.session.query<LeaseRow>(
      `UPDATE ${this.s}.leases l SET holder = $3, expires_ms = $4,
         (holder_pid, holder_session_start) = (SELECT ${THIS_SESSION})
       WHERE name = $1 AND holder = $2 AND NOT ${HOLDER_ALIVE}
       RETURNING name, holder, expires_ms`,
      [name, from, holder, nowMs + ttlMs],
    );
    return this.took(res.rows[0]);
  }

  /** Also records the session again: after a reconnect, the new backend stands for the holder. */
  async renewLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
    const res = await this.session.query(
      `UPDATE ${this.s}.leases SET expires_ms = $1,
         (holder_pid, holder_session_start) = (SELECT ${THIS_SESSION})
       WHERE name = $2 AND holder = $3`,
      [nowMs + ttlMs, name, holder],
    );
    return res.rowCount === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.query(`DELETE FROM ${this.s}.leases WHERE name = $1 AND holder = $2`, [
      name,
      holder,
    ]);
    await this.session.released(name, holder);
  }

  async end(): Promise<void> {
    await this.session.end();
  }

  private took(row: LeaseRow | undefined): Lease | null {
    if (!row) return null;
    this.session.hold(row.name, row.holder);
    return toLease(row);
  }
}
