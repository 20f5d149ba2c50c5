import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionInfo } from '../../core/admin-types.js';
import { scopeAllows } from '../../core/api-key.js';
import { QuotaClockError } from '../../core/errors.js';
import type { QuotaClock } from '../../quotaclock.js';
import type { FailedAuthLimiter } from '../failed-auth.js';
import { Formatter, localeFrom } from './format.js';
import type { Html } from './html.js';
import { renderPage, type Flash, type NavKey, type Viewer } from './layout.js';
import { SECURITY_HEADERS } from './guard.js';
import type { ViewContext } from './view.js';

export interface DashboardOptions {
  readonly qc: QuotaClock;
  /** serve --session-ttl, in seconds. */
  readonly sessionTtlSeconds?: number;
  /** The same failed-auth limiter as the API's keys: sign-in guesses count against it. */
  readonly limiter: FailedAuthLimiter;
}

export const DEFAULT_SESSION_TTL_SECONDS = 28_800;

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session this request carries, once checked. */
    adminSession?: SessionInfo & { token: string };
  }
}

export function viewerOf(request: FastifyRequest): Viewer {
  const key = request.adminSession!.key;
  return { name: key.name, readOnly: !scopeAllows(key.scopes, 'admin:write') };
}

export function viewContext(request: FastifyRequest, qc: QuotaClock): ViewContext {
  return {
    fmt: new Formatter(localeFrom(request.headers['accept-language'])),
    viewer: viewerOf(request),
    nowMs: qc.now(),
    zone: qc.policy.rule.timeZone,
  };
}

/** The audit actor for a write: the session key's name, with the reason given in the form. */
export function actorOf(
  request: FastifyRequest,
  reason?: string,
): { actor: string; reason?: string } {
  const name = request.adminSession!.key.name;
  return reason ? { actor: name, reason } : { actor: name };
}

/** Writes need admin:write; an admin:read session gets 403 and nothing changes. */
export function requireWrite(request: FastifyRequest): void {
  if (!scopeAllows(request.adminSession!.key.scopes, 'admin:write'))
    throw new QuotaClockError(
      'FORBIDDEN',
      'this session’s key has admin:read only; changes need admin:write',
      {
        where: 'session',
      },
    );
}

export function sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .headers({ ...SECURITY_HEADERS, 'Cache-Control': 'no-store' })
    .type('text/html; charset=utf-8')
    .send(body);
}

export function sendPage(
  reply: FastifyReply,
  request: FastifyRequest,
  page: { title: string; nav: NavKey; body: Html; flash?: readonly Flash[]; status?: number },
): FastifyReply {
  return sendHtml(
    reply,
    page.status ?? 200,
    renderPage({
      title: page.title,
      nav: page.nav,
      body: page.body,
      viewer: viewerOf(request),
      ...(page.flash ? { flash: page.flash } : {}),
    }),
  );
}

/** One form field as a trimmed string ('' when absent). */
export function field(body: unknown, name: string): string {
  if (!(body instanceof URLSearchParams)) return '';
  return (body.get(name) ?? '').trim();
}

export function fields(body: unknown, name: string): string[] {
  return body instanceof URLSearchParams ? body.getAll(name) : [];
}

export function queryParam(request: FastifyRequest, name: string): string {
  const v = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.trim() : '';
}
