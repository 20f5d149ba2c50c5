import { NotFoundError } from '../../core/errors.js';
import type { Actor, ApiKeyInfo, AuditEntry, AuditListOptions } from '../../core/admin-types.js';
import type { Page } from '../../core/types.js';
import type { StoreService, StoredApiKey, StoredSession } from '../quota-store.js';
import type { Synchronous } from '../shared/compose-store.js';
import {
  AUDIT_COLUMNS,
  KEY_COLUMNS,
  idCursor,
  pageLimit,
  toApiKeyInfo,
  toAuditEntry,
  type ApiKeyRow,
  type AuditRow,
} from '../admin-mapping.js';
import type { Db } from './connection.js';
import type { SqliteSubjects } from './subjects.js';
import { oneKeyOf, revokeAudit } from '../sql/key-rules.js';
import { KeyInfoMemo } from '../key-info-memo.js';

/** The service role: API keys, dashboard sessions and the audit log's reads. */
export class SqliteService implements Synchronous<StoreService> {
  private readonly keyByHash;
  private readonly sessionByHash;
  private readonly keyInfo = new KeyInfoMemo();

  constructor(
    private readonly db: Db,
    private readonly subjects: SqliteSubjects,
  ) {
    this.keyByHash = db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE hash = ?`);
    this.sessionByHash = db.prepare(
      `SELECT s.expires_ms, k.id, k.name, k.scopes, k.prefix, k.hash, k.created_ms, k.revoked_ms
       FROM sessions s JOIN api_keys k ON k.id = s.key_id WHERE s.hash = ?`,
    );
  }

  createApiKey(k: StoredApiKey, actor: Actor): ApiKeyInfo {
    return this.db
      .transaction(() => {
        const row = this.db
          .prepare(
            `INSERT INTO api_keys (id, name, scopes, prefix, hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)
             RETURNING ${KEY_COLUMNS}`,
          )
          .get(k.id, k.name, JSON.stringify(k.scopes), k.prefix, k.hash, k.createdMs) as ApiKeyRow;
        const info = toApiKeyInfo(row);
        this.subjects.recordAudit(
          k.createdMs,
          { action: 'key.create', subject: null, before: null, after: info },
          actor,
        );
        return info;
      })
      .immediate();
  }

  listApiKeys(): ApiKeyInfo[] {
    const rows = this.db
      .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_ms DESC, id DESC`)
      .all() as ApiKeyRow[];
    return rows.map(toApiKeyInfo);
  }

  apiKeyByHash(hash: string): (ApiKeyInfo & { hash: string }) | null {
    const row = this.keyByHash.get(hash) as ApiKeyRow | undefined;
    return row ? this.keyInfo.infoOf(row) : null;
  }

  revokeApiKey(idOrPrefix: string, nowMs: number, actor: Actor): ApiKeyInfo {
    return this.db
      .transaction(() => {
        const rows = this.db
          .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ? OR prefix = ? LIMIT 2`)
          .all(idOrPrefix, idOrPrefix) as ApiKeyRow[];
        const before = oneKeyOf(rows, idOrPrefix);
        // Revoking twice keeps the first instant and writes no second entry.
        if (before.revokedAt !== null) return before;
        const after = toApiKeyInfo(
          this.db
            .prepare(`UPDATE api_keys SET revoked_ms = ? WHERE id = ? RETURNING ${KEY_COLUMNS}`)
            .get(nowMs, before.id) as ApiKeyRow,
        );
        // The key's sessions end with it.
        this.db.prepare('DELETE FROM sessions WHERE key_id = ?').run(before.id);
        const audit = revokeAudit(before, after, actor);
        this.subjects.recordAudit(nowMs, audit.draft, audit.actor);
        return after;
      })
      .immediate();
  }

  createSession(s: StoredSession): void {
    this.db
      .transaction(() => {
        const key = this.db.prepare('SELECT revoked_ms FROM api_keys WHERE id = ?').get(s.keyId) as
          { revoked_ms: number | null } | undefined;
        if (!key || key.revoked_ms !== null)
          throw new NotFoundError(`no active API key "${s.keyId}"`, 'keyId');
        // Expired sessions are swept as new ones are made, so the table stays small.
        this.db.prepare('DELETE FROM sessions WHERE expires_ms <= ?').run(s.createdMs);
        this.db
          .prepare(
            'INSERT INTO sessions (hash, key_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)',
          )
          .run(s.hash, s.keyId, s.createdMs, s.expiresMs);
      })
      .immediate();
  }

  lookupSession(hash: string, nowMs: number): { key: ApiKeyInfo; expiresMs: number } | null {
    const row = this.sessionByHash.get(hash) as (ApiKeyRow & { expires_ms: number }) | undefined;
    if (!row || row.expires_ms <= nowMs || row.revoked_ms !== null) return null;
    return { key: toApiKeyInfo(row), expiresMs: row.expires_ms };
  }

  deleteSession(hash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE hash = ?').run(hash);
  }

  /** Newest first; each filter walks its own (column, id) index. */
  listAudit(opts: AuditListOptions = {}): Page<AuditEntry> {
    const limit = pageLimit(opts.limit);
    const before = idCursor(opts.after);
    const where = ['id < @before'];
    if (opts.actor !== undefined) where.push('actor = @actor');
    if (opts.subject !== undefined) where.push('subject = @subject');
    const rows = this.db
      .prepare(
        `SELECT ${AUDIT_COLUMNS} FROM audit WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`,
      )
      .all({
        before: before ?? Number.MAX_SAFE_INTEGER,
        actor: opts.actor ?? null,
        subject: opts.subject ?? null,
        limit: limit + 1,
      }) as AuditRow[];
    const items = rows.slice(0, limit).map(toAuditEntry);
    return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
  }
}
