import { BadInputError, NotFoundError } from '../../core/errors.js';
import type { Actor, ApiKeyInfo } from '../../core/admin-types.js';
import { toApiKeyInfo, type ApiKeyRow, type AuditDraft } from '../admin-mapping.js';

/**
 * The one key an id or prefix names, from the (at most two) rows that match
 * it: none is NOT_FOUND, two is a prefix too short to choose.
 */
export function oneKeyOf(rows: readonly ApiKeyRow[], idOrPrefix: string): ApiKeyInfo {
  if (rows.length === 0) throw new NotFoundError(`no API key "${idOrPrefix}"`, 'id');
  if (rows.length > 1) {
    throw new BadInputError(
      `id: the prefix "${idOrPrefix}" matches several keys; give the id`,
      'id',
    );
  }
  return toApiKeyInfo(rows[0]!);
}

/** The audit entry of a revocation, before and after. */
export function revokeAudit(
  before: ApiKeyInfo,
  after: ApiKeyInfo,
  actor: Actor,
): { draft: AuditDraft; actor: Actor } {
  return { draft: { action: 'key.revoke', subject: null, before, after }, actor };
}
