import type pg from 'pg';
import { backoff, isConnectionError, MAX_ATTEMPTS, type PgDb } from './pool.js';
import { dropped } from '../shared/debug-log.js';

/**
 * The connection that stands for this process while it holds leases. Every
 * lease statement that takes or renews a lease runs on it and records its
 * backend (pid and start time) with the row, so any other process can tell
 * for certain whether the holder is alive: when the holder dies, even by
 * kill -9, its socket closes and the backend ends.
 *
 * It is a connection of its own, not a pooled one: the pool closes idle
 * connections and lends them to other work, so a pooled backend would come
 * and go while the lease is held. It is opened on the first lease taken and
 * ended when this store holds none.
 */
export class LeaseSession {
  private client: Promise<pg.Client> | null = null;
  private readonly held = new Set<string>();
  private ended = false;
  /** Settles when the statement sent last has; the next one waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: PgDb) {}

  private open(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = this.db.dedicatedClient();
    const opening = client.connect().then(() => client);
    this.client = opening;
    // A lost connection is dropped here; the next statement opens another and re-records it.
    client.on('error', () => this.drop(opening));
    client.on('end', () => this.drop(opening));
    // The caller awaiting `opening` gets the error; here it only forgets the connection.
    opening.catch((e: unknown) => {
      dropped('opening the lease connection', 'the statement waiting on it fails')(e);
      this.drop(opening);
    });
    return opening;
  }

  private drop(which: Promise<pg.Client>): void {
    if (this.client === which) this.client = null;
  }

  /**
   * Runs one lease statement on the session. After a broken connection it is
   * sent again on a new one, with the pool's back-off (a server restart
   * takes a few seconds): acquire and renew are idempotent for the same
   * holder, and a take-over that did commit is found as ours by the
   * caller's next acquire.
   */
  query<R extends pg.QueryResultRow>(
    text: string,
    values: readonly unknown[],
  ): Promise<pg.QueryResult<R>> {
    // One statement at a time on the connection: pg would queue a second itself, but that is
    // deprecated and goes in pg 9. The order is the callers' order, as pg's queue kept it.
    const run = this.queue.then(() => this.send<R>(text, values));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async send<R extends pg.QueryResultRow>(
    text: string,
    values: readonly unknown[],
  ): Promise<pg.QueryResult<R>> {
    for (let attempt = 0; ; attempt += 1) {
      if (this.ended) throw this.db.unavailable(new Error('the store is closed'));
      const opening = this.open();
      try {
        const client = await opening;
        return await client.query<R>(text, values as unknown[]);
      } catch (e) {
        if (!isConnectionError(e)) throw e;
        this.drop(opening);
        void opening
          .then((c) => c.end())
          .catch(dropped('closing a lost lease connection', 'it is already broken'));
        if (attempt + 1 >= MAX_ATTEMPTS) throw this.db.unavailable(e);
        await backoff(attempt);
      }
    }
  }

  /** Notes a lease this store now holds; the session stays open while any is held. */
  hold(name: string, holder: string): void {
    this.held.add(`${name}\u0000${holder}`);
  }

  /** Notes a lease released; with none left, the session is ended. */
  async released(name: string, holder: string): Promise<void> {
    this.held.delete(`${name}\u0000${holder}`);
    if (this.held.size === 0) await this.closeConnection();
  }

  private async closeConnection(): Promise<void> {
    const opening = this.client;
    this.client = null;
    if (opening) {
      await opening
        .then((c) => c.end())
        .catch(dropped('closing the lease connection', 'the server ends its session and locks'));
    }
  }

  async end(): Promise<void> {
    this.ended = true;
    await this.closeConnection();
  }
}
