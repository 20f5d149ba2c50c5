import type { GrantValues } from './grant-batch-sql.js';
import type { PgDb } from './pool.js';
import { isUniqueViolation } from './pool.js';

interface Pending {
  readonly values: GrantValues;
  /** The counter row this grant writes. */
  readonly counter: string;
  resolve(used: number | undefined): void;
  reject(e: unknown): void;
}

/** Requests per batch statement. */
const MAX_BATCH = 64;

/**
 * Group commit for grants. While fewer than `maxInFlight` grant statements
 * are running, a grant is sent at once, alone; when they are all busy, grants
 * queue and the next free slot sends the queue as one statement. A lightly
 * loaded process therefore pays no latency for it, and a busy one spends one
 * round trip and one commit on many grants instead of one each.
 */
export class GrantBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  /** A pump is due at the end of this turn of the event loop (see schedule). */
  private scheduled = false;

  constructor(
    private readonly db: PgDb,
    private readonly single: { text: string; name: string },
    private readonly batch: { text: string; name: string },
    private readonly groups: { text: string; name: string },
    private readonly maxInFlight: number,
  ) {}

  /** Resolves to the counter after the grant, or undefined when this path granted nothing. */
  submit(values: GrantValues): Promise<number | undefined> {
    if (this.maxInFlight <= 0) return this.runSingle(values);
    return new Promise((resolve, reject) => {
      this.queue.push({
        values,
        counter: `${values[0]}|${values[1]}|${values[4]}`,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  /**
   * Sends at the end of this turn of the event loop, not at once: the callers
   * a finished batch answers all submit their next grant within the same
   * turn, and they then go as one statement. Sending at once sent the first
   * of them alone and batched the rest, halving the mean batch.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  /** Up to MAX_BATCH queued grants, oldest first; the rest wait their turn. */
  private take(): Pending[] {
    return this.queue.splice(0, MAX_BATCH);
  }

  private async run(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const p = batch[0]!;
      await this.runSingle(p.values).then(p.resolve, p.reject);
      return;
    }
    // A fixed order of row locks, so two batches never wait on each other in a cycle. The sort is
    // stable, so requests on one counter keep their queue order, which is the order they are granted in.
    batch.sort((a, b) => (a.counter < b.counter ? -1 : a.counter > b.counter ? 1 : 0));
    // The grouping costs the server a sort and an aggregate, so only a batch that needs it pays for it.
    const shared = batch.some((p, i) => i > 0 && p.counter === batch[i - 1]!.counter);
    const statement = shared ? this.groups : this.batch;
    const columns = Array.from({ length: 15 }, (_, i) => batch.map((p) => p.values[i]));
    try {
      const res = await this.db.query<{ ord: number; used: number }>(statement.text, columns, {
        // Safe to resend after an unknown outcome only if every grant in it carries a key.
        idempotent: batch.every((p) => p.values[12] !== null),
        name: statement.name,
      });
      const used = new Map(res.rows.map((r) => [r.ord, r.used]));
      batch.forEach((p, i) => p.resolve(used.get(i + 1)));
    } catch (e) {
      // A repeated key anywhere rolled the whole batch back: each request is decided on its own.
      if (isUniqueViolation(e, 'events_idem')) batch.forEach((p) => p.resolve(undefined));
      else batch.forEach((p) => p.reject(e));
    }
  }

  private async runSingle(values: GrantValues): Promise<number | undefined> {
    const keyed = values[12] !== null;
    try {
      const res = await this.db.query<{ used_after: number }>(this.single.text, values, {
        idempotent: keyed,
        name: this.single.name,
      });
      return res.rows[0]?.used_after;
    } catch (e) {
      // The key was used before (or by a racing call that committed first): the statement rolled back.
      if (keyed && isUniqueViolation(e, 'events_idem')) return undefined;
      throw e;
    }
  }
}
