import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyInfo, Scope } from '../core/admin-types.js';
import { scopeAllows } from '../core/api-key.js';
import { QuotaClockError } from '../core/errors.js';
import type { FailedAuthLimiter } from './failed-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key that authenticated this request; its name is the audit actor and goes in the log line. */
    apiKey?: ApiKeyInfo;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public. */
    scope?: Scope;
  }
}

export type Authenticate = (presented: string) => Promise<ApiKeyInfo | null>;

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The preHandler of every /v1 route: a Bearer key that the store knows and
 * has not revoked (read from the store each time, so a revocation holds at
 * once on every worker), holding the route's scope. An address that keeps
 * presenting wrong keys is refused with 429 before its key is even looked at.
 */
export function requireKey(authenticate: Authenticate, limiter: FailedAuthLimiter) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const wait = limiter.retryAfter(request.ip);
    if (wait > 0) {
      void reply.header('Retry-After', String(wait));
      throw new QuotaClockError(
        'RATE_LIMITED',
        `too many failed attempts from this address; retry in ${wait} s`,
        { where: 'Authorization' },
      );
    }
    const header = request.headers.authorization;
    const presented = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
    if (presented === undefined) {
      throw new QuotaClockError(
        'UNAUTHENTICATED',
        'Authorization: expected "Bearer <api key>" (create one with `quotaclock keys create`)',
        { where: 'Authorization' },
      );
    }
    const key = await authenticate(presented);
    if (!key) {
      limiter.fail(request.ip);
      throw new QuotaClockError('UNAUTHENTICATED', 'Authorization: unknown or revoked API key', {
        where: 'Authorization',
      });
    }
    request.apiKey = key;
    if (!scopeAllows(key.scopes, scope)) {
      throw new QuotaClockError('FORBIDDEN', `this key lacks the ${scope} scope`, {
        where: 'Authorization',
      });
    }
  };
}
