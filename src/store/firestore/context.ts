import type {
  CollectionReference,
  DocumentReference,
  Firestore,
  Transaction,
  WriteBatch,
} from '@google-cloud/firestore';
import { SubjectNotFoundError } from '../../core/errors.js';
import type { QuotaPolicy } from '../../core/policy.js';
import { CLI_ACTOR, type Actor } from '../../core/admin-types.js';
import type { AuditDraft } from '../admin-mapping.js';
import { COLLECTIONS, jsonText, newSeq, parseQuotaDoc, ts, type QuotaDoc } from './layout.js';

/** What every part of the Firestore store shares: the client, the policy and the paths. */
export class FsContext {
  private readonly queues = new Map<string, Promise<unknown>>();
  /** When the reset's scans last found every user document placed in time (see candidates.ts). */
  unplacedNone: number | null = null;

  constructor(
    readonly db: Firestore,
    readonly policy: QuotaPolicy,
    /**
     * The caller's clock (epoch ms), for the reads whose answer depends on
     * the time but whose contract method takes none: which period is a
     * subject's current one. A pinned clock (--now) reaches them too.
     */
    readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs transactions on one subject's document one after another within
   * this process. Correctness never depends on it (every change is a
   * transaction); it keeps twenty concurrent calls of one process from
   * contending for the document's lock and backing off, so contention is
   * only ever between processes.
   */
  serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return run;
  }

  quotas(): CollectionReference {
    return this.db.collection(COLLECTIONS.quotas);
  }

  quotaRef(id: string): DocumentReference {
    return this.quotas().doc(id);
  }

  historyRef(id: string, key: string): DocumentReference {
    return this.quotaRef(id).collection(COLLECTIONS.history).doc(key);
  }

  eventsOf(id: string): CollectionReference {
    return this.quotaRef(id).collection(COLLECTIONS.events);
  }

  runRef(key: string): DocumentReference {
    return this.db.collection(COLLECTIONS.runs).doc(key);
  }

  leaseRef(name: string): DocumentReference {
    return this.db.collection(COLLECTIONS.leases).doc(name);
  }

  auditCollection(): CollectionReference {
    return this.db.collection(COLLECTIONS.audit);
  }

  /** Reads and parses a user document inside a transaction; throws when it is missing. */
  async requireIn(tx: Transaction, id: string, nowMs: number): Promise<QuotaDoc> {
    const snap = await tx.get(this.quotaRef(id));
    if (!snap.exists) throw new SubjectNotFoundError(id);
    return parseQuotaDoc(this.policy, snap, nowMs);
  }

  async read(id: string, nowMs: number): Promise<QuotaDoc | null> {
    const snap = await this.quotaRef(id).get();
    return snap.exists ? parseQuotaDoc(this.policy, snap, nowMs) : null;
  }

  async require(id: string, nowMs: number): Promise<QuotaDoc> {
    const d = await this.read(id, nowMs);
    if (!d) throw new SubjectNotFoundError(id);
    return d;
  }

  /** An audit entry, written with the change it records (same transaction or batch). */
  audit(
    w: Transaction | WriteBatch,
    nowMs: number,
    draft: AuditDraft,
    actor: Actor = CLI_ACTOR,
    id?: string,
  ): void {
    const seq = newSeq();
    // Transaction and WriteBatch share set(ref, data); TypeScript cannot call the union.
    (w as WriteBatch).set(this.auditCollection().doc(id ?? `a_${seq}`), {
      seq,
      at: ts(nowMs),
      action: draft.action,
      subject: draft.subject,
      actor: actor.actor,
      before_json: jsonText(draft.before),
      after_json: jsonText(draft.after),
      reason: actor.reason ?? null,
      detail_json: jsonText(draft.detail),
    });
  }

  apiKeys(): CollectionReference {
    return this.db.collection(COLLECTIONS.apiKeys);
  }

  sessions(): CollectionReference {
    return this.db.collection(COLLECTIONS.sessions);
  }
}
