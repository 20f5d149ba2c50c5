import { BadInputError } from './errors.js';
import { SCOPES, type Scope } from './admin-types.js';

export const API_KEY_PREFIX = 'qck_';
/** Characters of the key kept for display: `qck_` plus 8 of the random part (48 bits). */
export const DISPLAY_PREFIX_LENGTH = 12;

export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_PREFIX_LENGTH);
}

export function parseScopes(scopes: unknown, where = 'scopes'): Scope[] {
  if (!Array.isArray(scopes) || scopes.length === 0) {
    throw new BadInputError(`${where}: expected at least one of ${SCOPES.join(', ')}`, where);
  }
  const out = new Set<Scope>();
  for (const s of scopes) {
    if (typeof s !== 'string' || !(SCOPES as readonly string[]).includes(s)) {
      throw new BadInputError(
        `${where}: unknown scope ${JSON.stringify(s)} (known: ${SCOPES.join(', ')})`,
        where,
      );
    }
    out.add(s as Scope);
  }
  return [...out];
}

export function assertKeyName(name: unknown, where = 'name'): asserts name is string {
  if (typeof name !== 'string' || !/^[\p{L}\p{N}_.:@ +-]{1,100}$/u.test(name)) {
    throw new BadInputError(
      `${where}: expected 1-100 letters, digits, spaces or _.:@+- characters`,
      where,
    );
  }
}

/** What a scope grants: write scopes include their read scope. */
export function scopeAllows(held: readonly Scope[], needed: Scope): boolean {
  if (held.includes(needed)) return true;
  if (needed === 'quota:read') return held.includes('quota:write');
  if (needed === 'admin:read') return held.includes('admin:write');
  return false;
}
