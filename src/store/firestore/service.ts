import type { DocumentData } from '@google-cloud/firestore';
import { BadInputError, NotFoundError } from '../../core/errors.js';
import type {
  Actor,
  ApiKeyInfo,
  AuditAction,
  AuditEntry,
  AuditListOptions,
  Scope,
} from '../../core/admin-types.js';
import { toIso } from '../../core/period.js';
import type { Page } from '../../core/types.js';
import type { StoreService, StoredApiKey, StoredSession } from '../quota-store.js';
import { pageLimit, seqCursor } from '../admin-mapping.js';
import { runTx } from './client.js';
import type { FsContext } from './context.js';
import { toMs, ts } from './layout.js';

/** Entries written before actors were recorded used these names. */
const RENAMED: Readonly<Record<string, AuditAction>> = {
  'subject.add': 'subject.create',
  'subject.set_plan': 'plan.set',
  'subject.set_override': 'override.set',
};

const parseJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);

function keyOf(id: string, k: DocumentData): ApiKeyInfo & { hash: string } {
  const revoked = toMs(k.revoked_at);
  return {
    id,
    name: String(k.name),
    scopes: (k.scopes as Scope[]) ?? [],
    prefix: String(k.prefix),
    createdAt: toIso(toMs(k.created_at) ?? 0),
    revokedAt: revoked === null ? null : toIso(revoked),
    hash: String(k.hash),
  };
}

const publicKey = ({ hash: _hash, ...info }: ApiKeyInfo & { hash: string }): ApiKeyInfo => info;

/**
 * API keys (quotaclockApiKeys/{id}: the sha256 and a prefix, never the key),
 * sessions (quotaclockSessions/{sha256 of the token}) and the audit log's reads.
 */
export class FsService implements StoreService {
  constructor(private readonly ctx: FsContext) {}

  async createApiKey(k: StoredApiKey, actor: Actor): Promise<ApiKeyInfo> {
    const ref = this.ctx.apiKeys().doc(k.id);
    return runTx(this.ctx.db, async (tx) => {
      const data = {
        name: k.name,
        scopes: [...k.scopes],
        prefix: k.prefix,
        hash: k.hash,
        created_at: ts(k.createdMs),
        revoked_at: null,
      };
      tx.create(ref, data);
      const info = publicKey(keyOf(k.id, data));
      this.ctx.audit(
        tx,
        k.createdMs,
        { action: 'key.create', subject: null, before: null, after: info },
        actor,
      );
      return info;
    });
  }

  async listApiKeys(): Promise<ApiKeyInfo[]> {
    const snap = await this.ctx.apiKeys().get();
    return snap.docs
      .map((d) => publicKey(keyOf(d.id, d.data())))
      .sort((a, b) =>
        a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
      );
  }

  async apiKeyByHash(hash: string): Promise<(ApiKeyInfo & { hash: string }) | null> {
    const snap = await this.ctx.apiKeys().where('hash', '==', hash).limit(1).get();
    const d = snap.docs[0];
    return d ? keyOf(d.id, d.data()) : null;
  }

  async revokeApiKey(idOrPrefix: string, nowMs: number, actor: Actor): Promise<ApiKeyInfo> {
    return runTx(this.ctx.db, async (tx) => {
      const [byId, byPrefix] = await Promise.all([
        tx.get(this.ctx.apiKeys().doc(idOrPrefix)),
        tx.get(this.ctx.apiKeys().where('prefix', '==', idOrPrefix).limit(2)),
      ]);
      const found = byId.exists ? [byId] : byPrefix.docs;
      if (found.length === 0) throw new NotFoundError(`no API key "${idOrPrefix}"`, 'id');
      if (found.length > 1) {
        throw new BadInputError(
          `id: the prefix "${idOrPrefix}" matches several keys; give the id`,
          'id',
        );
      }
      const doc = found[0]!;
      const before = publicKey(keyOf(doc.id, doc.data()!));
      // Revoking twice keeps the first instant and writes no second entry.
      if (before.revokedAt !== null) return before;
      const sessions = await tx.get(this.ctx.sessions().where('key_id', '==', doc.id));
      tx.update(doc.ref, { revoked_at: ts(nowMs) });
      // The key's sessions end with it.
      for (const s of sessions.docs) tx.delete(s.ref);
      const after = { ...before, revokedAt: toIso(nowMs) };
      this.ctx.audit(tx, nowMs, { action: 'key.revoke', subject: null, before, after }, actor);
      return after;
    });
  }

  async createSession(s: StoredSession): Promise<void> {
    await runTx(this.ctx.db, async (tx) => {
      // Read in the transaction: a revoke committing first makes this one fail and retry, then refuse.
      const key = await tx.get(this.ctx.apiKeys().doc(s.keyId));
      if (!key.exists || toMs(key.get('revoked_at')) !== null) {
        throw new NotFoundError(`no active API key "${s.keyId}"`, 'keyId');
      }
      tx.create(this.ctx.sessions().doc(s.hash), {
        key_id: s.keyId,
        created_at: ts(s.createdMs),
        expires_at: ts(s.expiresMs),
      });
    });
  }

  async lookupSession(
    hash: string,
    nowMs: number,
  ): Promise<{ key: ApiKeyInfo; expiresMs: number } | null> {
    const s = await this.ctx.sessions().doc(hash).get();
    if (!s.exists) return null;
    const expiresMs = toMs(s.get('expires_at')) ?? 0;
    if (expiresMs <= nowMs) return null;
    const k = await this.ctx
      .apiKeys()
      .doc(String(s.get('key_id')))
      .get();
    if (!k.exists) return null;
    const key = keyOf(k.id, k.data()!);
    return key.revokedAt === null ? { key: publicKey(key), expiresMs } : null;
  }

  async deleteSession(hash: string): Promise<void> {
    await this.ctx.sessions().doc(hash).delete();
  }

  /** Newest first by seq; a filter with the order needs the composite index in firestore.indexes.json. */
  async listAudit(opts: AuditListOptions = {}): Promise<Page<AuditEntry>> {
    const limit = pageLimit(opts.limit);
    const after = seqCursor(opts.after);
    let q = this.ctx.auditCollection().orderBy('seq', 'desc');
    if (opts.actor !== undefined) q = q.where('actor', '==', opts.actor);
    if (opts.subject !== undefined) q = q.where('subject', '==', opts.subject);
    if (after) q = q.startAfter(after);
    const page = await q.limit(limit + 1).get();
    const docs = page.docs.slice(0, limit);
    const items = docs.map((d): AuditEntry => {
      const a = d.data();
      const action = String(a.action);
      return {
        id: d.id,
        at: toIso(toMs(a.at) ?? 0),
        actor: typeof a.actor === 'string' ? a.actor : 'cli',
        action: RENAMED[action] ?? (action as AuditAction),
        ...(typeof a.subject === 'string' ? { subject: a.subject } : {}),
        before: parseJson(a.before_json),
        // Entries from before actors were recorded kept their detail instead.
        after: parseJson(a.after_json ?? a.detail_json),
        ...(typeof a.reason === 'string' ? { reason: a.reason } : {}),
      };
    });
    return {
      items,
      next: page.size > limit ? String(docs[docs.length - 1]!.get('seq')) : null,
    };
  }
}
