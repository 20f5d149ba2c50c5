import type { ApiKeyInfo } from '../core/admin-types.js';
import { toApiKeyInfo, type ApiKeyRow } from './admin-mapping.js';

export type KeyInfoWithHash = ApiKeyInfo & { readonly hash: string };

/**
 * The mapping of an api_keys row to what authentication returns, kept per
 * hash and reused only while the row just read is field for field the row it
 * was made from. It saves the scopes' JSON.parse and the dates' formatting on
 * every request; it is not a cache of keys: the row is still read from the
 * store each time, so a revocation (revoked_ms set) holds at once.
 */
export class KeyInfoMemo {
  private readonly byHash = new Map<string, { row: ApiKeyRow; info: KeyInfoWithHash }>();

  constructor(private readonly max = 256) {}

  infoOf(row: ApiKeyRow): KeyInfoWithHash {
    const seen = this.byHash.get(row.hash);
    if (seen && sameRow(seen.row, row)) return seen.info;
    const mapped = toApiKeyInfo(row);
    // Frozen: the same object answers many requests, so no caller may change it.
    Object.freeze(mapped.scopes);
    const info = Object.freeze({ ...mapped, hash: row.hash });
    if (this.byHash.size >= this.max) this.byHash.clear();
    this.byHash.set(row.hash, { row: { ...row }, info });
    return info;
  }
}

function sameRow(a: ApiKeyRow, b: ApiKeyRow): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.scopes === b.scopes &&
    a.prefix === b.prefix &&
    a.hash === b.hash &&
    a.created_ms === b.created_ms &&
    a.revoked_ms === b.revoked_ms
  );
}
