import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scopeAllows } from '../../core/api-key.js';
import { DEFAULT_SESSION_TTL_SECONDS, field, sendHtml, type DashboardOptions } from './context.js';
import { renderLogin } from './pages/login.js';
import { clearedCookie, readCookie, SESSION_COOKIE, sessionCookie } from './session-cookie.js';

const isHttps = (request: FastifyRequest) => request.protocol === 'https';

/** The session this request's cookie names, if the store still honours it (not expired, key not revoked). */
export async function sessionOf(request: FastifyRequest, opts: DashboardOptions) {
  const token = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (!token) return null;
  const found = await opts.qc.sessions.lookup(token);
  return found ? { ...found, token } : null;
}

/** To the sign-in page, dropping a cookie that no longer opens a session. */
export function toSignIn(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (readCookie(request.headers.cookie, SESSION_COOKIE))
    void reply.header('Set-Cookie', clearedCookie(isHttps(request)));
  return reply.code(303).header('Cache-Control', 'no-store').redirect('/admin/login');
}

/** GET and POST /admin/login, POST /admin/logout. */
export function signInRoutes(app: FastifyInstance, opts: DashboardOptions): void {
  const ttl = opts.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;

  app.get('/login', { config: { dashboardPublic: true } }, async (request, reply) => {
    if (await sessionOf(request, opts)) return reply.code(303).redirect('/admin/');
    return sendHtml(reply, 200, renderLogin());
  });

  app.post('/login', { config: { dashboardPublic: true } }, async (request, reply) => {
    const wait = opts.limiter.retryAfter(request.ip);
    if (wait > 0) {
      void reply.header('Retry-After', String(wait));
      return sendHtml(
        reply,
        429,
        renderLogin({
          error: `Too many failed attempts from this address. Try again in ${wait} s.`,
        }),
      );
    }
    const presented = field(request.body, 'key');
    const key = presented ? await opts.qc.keys.authenticate(presented) : null;
    if (!key) {
      opts.limiter.fail(request.ip);
      return sendHtml(reply, 401, renderLogin({ error: 'That key is unknown or revoked.' }));
    }
    if (!scopeAllows(key.scopes, 'admin:read')) {
      // A real key without an admin scope: refused like a wrong key, so the form reveals nothing more.
      opts.limiter.fail(request.ip);
      return sendHtml(
        reply,
        401,
        renderLogin({
          error: `The key “${key.name}” has no admin scope. Sign in with an admin:read or admin:write key.`,
        }),
      );
    }
    const session = await opts.qc.sessions.create(key.id, ttl * 1000);
    request.log.info({ key: key.name }, 'dashboard sign-in');
    return reply
      .code(303)
      .header('Set-Cookie', sessionCookie(session.token, ttl, isHttps(request)))
      .header('Cache-Control', 'no-store')
      .redirect('/admin/');
  });

  app.post('/logout', { config: { dashboardPublic: true } }, async (request, reply) => {
    const token = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (token) await opts.qc.sessions.destroy(token);
    return reply
      .code(303)
      .header('Set-Cookie', clearedCookie(isHttps(request)))
      .header('Cache-Control', 'no-store')
      .redirect('/admin/login');
  });
}
