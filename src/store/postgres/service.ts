import { NotFoundError } from '../../core/errors.js';
import type { Actor, ApiKeyInfo, AuditEntry, AuditListOptions } from '../../core/admin-types.js';
import type { Page } from '../../core/types.js';
import type { StoreService, StoredApiKey, StoredSession } from '../quota-store.js';
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
import type { PgDb } from './pool.js';
import type { PgSubjects } from './subjects.js';
import { oneKeyOf, revokeAudit } from '../sql/key-rules.js';
import { KeyInfoMemo } from '../key-info-memo.js';

/** The service role: API keys, dashboard sessions and the audit log's reads. */
export class PgService implements StoreService {
  private readonly keyInfo = new KeyInfoMemo();

  constructor(
    private readonly db: PgDb,
    private readonly subjects: PgSubjects,
  ) {}

  private get s() {
    return this.db.s;
  }

  async createApiKey(k: StoredApiKey, actor: Actor): Promise<ApiKeyInfo> {
    return this.db.tx(
      async (c) => {
        const res = await c.query<ApiKeyRow>(
          `INSERT INTO ${this.s}.api_keys (id, name, scopes, prefix, hash, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING ${KEY_COLUMNS}`,
          [k.id, k.name, JSON.stringify(k.scopes), k.prefix, k.hash, k.createdMs],
        );
        const info = toApiKeyInfo(res.rows[0]!);
        await this.subjects.recordAudit(
          c,
          k.createdMs,
          { action: 'key.create', subject: null, before: null, after: info },
          actor,
        );
        return info;
      },
      { idempotent: false },
    );
  }

  async listApiKeys(): Promise<ApiKeyInfo[]> {
    const res = await this.db.query<ApiKeyRow>(
      `SELECT ${KEY_COLUMNS} FROM ${this.s}.api_keys ORDER BY created_ms DESC, id DESC`,
      [],
      { idempotent: true },
    );
    return res.rows.map(toApiKeyInfo);
  }

  async apiKeyByHash(hash: string): Promise<(ApiKeyInfo & { hash: string }) | null> {
    const res = await this.db.query<ApiKeyRow>(
      `SELECT ${KEY_COLUMNS} FROM ${this.s}.api_keys WHERE hash = $1`,
      [hash],
      { idempotent: true, name: `qc_key_by_hash_${this.db.schema}` },
    );
    const row = res.rows[0];
    return row ? this.keyInfo.infoOf(row) : null;
  }

  async revokeApiKey(idOrPrefix: string, nowMs: number, actor: Actor): Promise<ApiKeyInfo> {
    return this.db.tx(
      async (c) => {
        const rows = (
          await c.query<ApiKeyRow>(
            `SELECT ${KEY_COLUMNS} FROM ${this.s}.api_keys WHERE id = $1 OR prefix = $1 LIMIT 2 FOR UPDATE`,
            [idOrPrefix],
          )
        ).rows;
        const before = oneKeyOf(rows, idOrPrefix);
        // Revoking twice keeps the first instant and writes no second entry.
        if (before.revokedAt !== null) return before;
        const after = toApiKeyInfo(
          (
            await c.query<ApiKeyRow>(
              `UPDATE ${this.s}.api_keys SET revoked_ms = $1 WHERE id = $2 RETURNING ${KEY_COLUMNS}`,
              [nowMs, before.id],
            )
          ).rows[0]!,
        );
        // The key's sessions end with it.
        await c.query(`DELETE FROM ${this.s}.sessions WHERE key_id = $1`, [before.id]);
        const audit = revokeAudit(before, after, actor);
        await this.subjects.recordAudit(c, nowMs, audit.draft, audit.actor);
        return after;
      },
      { idempotent: false },
    );
  }

  async createSession(s: StoredSession): Promise<void> {
    await this.db.tx(
      async (c) => {
        // FOR SHARE: a revoke running now waits, or this insert sees it revoked.
        const key = (
          await c.query<{ revoked_ms: string | null }>(
            `SELECT revoked_ms FROM ${this.s}.api_keys WHERE id = $1 FOR SHARE`,
            [s.keyId],
          )
        ).rows[0];
        if (!key || key.revoked_ms !== null) {
          throw new NotFoundError(`no active API key "${s.keyId}"`, 'keyId');
        }
        // Expired sessions are swept as new ones are made, so the table stays small.
        await c.query(`DELETE FROM ${this.s}.sessions WHERE expires_ms <= $1`, [s.createdMs]);
        await c.query(
          `INSERT INTO ${this.s}.sessions (hash, key_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)`,
          [s.hash, s.keyId, s.createdMs, s.expiresMs],
        );
      },
      { idempotent: false },
    );
  }

  async lookupSession(
    hash: string,
    nowMs: number,
  ): Promise<{ key: ApiKeyInfo; expiresMs: number } | null> {
    const res = await this.db.query<ApiKeyRow & { expires_ms: string }>(
      `SELECT s.expires_ms, k.id, k.name, k.scopes, k.prefix, k.hash, k.created_ms, k.revoked_ms
       FROM ${this.s}.sessions s JOIN ${this.s}.api_keys k ON k.id = s.key_id WHERE s.hash = $1`,
      [hash],
      { idempotent: true },
    );
    const row = res.rows[0];
    if (!row || Number(row.expires_ms) <= nowMs || row.revoked_ms !== null) return null;
    return { key: toApiKeyInfo(row), expiresMs: Number(row.expires_ms) };
  }

  async deleteSession(hash: string): Promise<void> {
    await this.db.query(`DELETE FROM ${this.s}.sessions WHERE hash = $1`, [hash], {
      idempotent: true,
    });
  }

  /** Newest first; each filter walks its own (column, id) index. */
  async listAudit(opts: AuditListOptions = {}): Promise<Page<AuditEntry>> {
    const limit = pageLimit(opts.limit);
    const before = idCursor(opts.after);
    const res = await this.db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM ${this.s}.audit
       WHERE id < $1 AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR subject = $3)
       ORDER BY id DESC LIMIT $4`,
      [before ?? Number.MAX_SAFE_INTEGER, opts.actor ?? null, opts.subject ?? null, limit + 1],
      { idempotent: true },
    );
    const items = res.rows.slice(0, limit).map(toAuditEntry);
    return { items, next: res.rows.length > limit ? items[items.length - 1]!.id : null };
  }
}
