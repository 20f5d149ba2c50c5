/**
 * The facade's service side: API keys, dashboard sessions and the audit log.
 * Every call reads the store (no cache), so a revocation holds at once in
 * every worker and process.
 */
import { assertKeyName, displayPrefix, parseScopes } from './core/api-key.js';
import {
  generateApiKey,
  generateKeyId,
  generateSessionToken,
  hashSecret,
  sameHash,
} from './auth/secrets.js';
import {
  CLI_ACTOR,
  type Actor,
  type ApiKeyInfo,
  type AuditEntry,
  type AuditListOptions,
  type NewApiKey,
  type NewSession,
  type Scope,
  type SessionInfo,
} from './core/admin-types.js';
import { BadInputError } from './core/errors.js';
import type { Page } from './core/types.js';
import type { QuotaStore } from './store/quota-store.js';

type StoreOf = () => Promise<QuotaStore>;
type NowOf = () => number;

export class ApiKeys {
  constructor(
    private readonly store: StoreOf,
    private readonly now: NowOf,
  ) {}

  /** The key is in the answer once; the store keeps its sha256 and a display prefix. */
  async create(
    input: { name: string; scopes: readonly Scope[] | readonly string[] },
    actor: Actor = CLI_ACTOR,
  ): Promise<NewApiKey> {
    assertKeyName(input.name);
    const scopes = parseScopes(input.scopes);
    const key = generateApiKey();
    const info = await (
      await this.store()
    ).createApiKey(
      {
        id: generateKeyId(),
        name: input.name,
        scopes,
        prefix: displayPrefix(key),
        hash: hashSecret(key),
        createdMs: this.now(),
      },
      actor,
    );
    return { ...info, key };
  }

  async list(): Promise<ApiKeyInfo[]> {
    return (await this.store()).listApiKeys();
  }

  async revoke(idOrPrefix: string, actor: Actor = CLI_ACTOR): Promise<ApiKeyInfo> {
    if (typeof idOrPrefix !== 'string' || idOrPrefix.length < 4 || idOrPrefix.length > 200) {
      throw new BadInputError('id: expected a key id or its prefix', 'id');
    }
    return (await this.store()).revokeApiKey(idOrPrefix, this.now(), actor);
  }

  /** null for an unknown, malformed or revoked key. */
  async authenticate(presented: string): Promise<ApiKeyInfo | null> {
    if (typeof presented !== 'string' || presented.length < 8 || presented.length > 512)
      return null;
    const hash = hashSecret(presented);
    const found = await (await this.store()).apiKeyByHash(hash);
    // The lookup is by hash, so an attacker cannot steer it; the compare is constant-time anyway.
    if (!found || !sameHash(found.hash, hash) || found.revokedAt !== null) return null;
    const { hash: _hash, ...info } = found;
    return info;
  }
}

export class Sessions {
  constructor(
    private readonly store: StoreOf,
    private readonly now: NowOf,
  ) {}

  async create(keyId: string, ttlMs: number): Promise<NewSession> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) {
      throw new BadInputError('ttlMs: expected a whole number of milliseconds ≥ 1000', 'ttlMs');
    }
    const token = generateSessionToken();
    const createdMs = this.now();
    const expiresMs = createdMs + ttlMs;
    await (
      await this.store()
    ).createSession({ hash: hashSecret(token), keyId, createdMs, expiresMs });
    return { token, expiresAt: new Date(expiresMs).toISOString() };
  }

  async lookup(token: string): Promise<SessionInfo | null> {
    if (typeof token !== 'string' || token.length < 16 || token.length > 512) return null;
    const found = await (await this.store()).lookupSession(hashSecret(token), this.now());
    return found ? { key: found.key, expiresAt: new Date(found.expiresMs).toISOString() } : null;
  }

  async destroy(token: string): Promise<void> {
    if (typeof token !== 'string' || token.length === 0) return;
    await (await this.store()).deleteSession(hashSecret(token));
  }
}

export class AuditLog {
  constructor(private readonly store: StoreOf) {}

  async list(opts: AuditListOptions = {}): Promise<Page<AuditEntry>> {
    return (await this.store()).listAudit(opts);
  }
}
