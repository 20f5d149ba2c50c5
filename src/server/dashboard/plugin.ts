import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { QuotaClockError } from '../../core/errors.js';
import { toProblem } from '../problem.js';
import { actionRoutes } from './action-routes.js';
import { sendHtml, sendPage, type DashboardOptions } from './context.js';
import { sameOrigin, SECURITY_HEADERS } from './guard.js';
import { html } from './html.js';
import { pageHead, renderBare } from './layout.js';
import { pageRenderers, pageRoutes } from './page-routes.js';
import { sessionOf, signInRoutes, toSignIn } from './sign-in.js';
import { SCRIPT } from './static/script.js';
import { STYLES } from './static/styles.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A dashboard route that needs no session (sign-in, static files). */
    dashboardPublic?: boolean;
  }
}

const etag = (s: string) => `"${createHash('sha256').update(s).digest('base64url').slice(0, 16)}"`;

/**
 * The dashboard at /admin/: server-rendered pages over the admin facade.
 * Register it with `{ prefix: '/admin' }`. It keeps its own error pages and
 * form parser inside this plugin, so the JSON API around it is unchanged.
 */
export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, new URLSearchParams(body as string)),
  );

  app.addHook('onRequest', async (request, reply) => {
    void reply.headers(SECURITY_HEADERS);
    // Every POST, sign-in included, must come from our own pages.
    if (request.method === 'POST') {
      const expected = `${request.protocol}://${request.host}`;
      const h = request.headers;
      if (!sameOrigin({ origin: h.origin, referer: h.referer }, expected)) {
        request.log.warn({ route: request.routeOptions.url }, 'dashboard: cross-site POST refused');
        return sendHtml(
          reply,
          403,
          renderBare(
            'Refused',
            html`<div class="panel">
              <div class="card">
                <div class="card-body">
                  <h1>Refused</h1>
                  <p>This form was sent from another site, so nothing was changed.</p>
                  <p><a href="/admin/">Back to the dashboard</a></p>
                </div>
              </div>
            </div>`,
          ),
        );
      }
    }
    if (request.routeOptions.config.dashboardPublic) return;
    const session = await sessionOf(request, opts);
    if (!session) return toSignIn(request, reply);
    request.adminSession = session;
    // The request log line names the key, as the API's does.
    request.apiKey = session.key;
  });

  const css = { body: STYLES, etag: etag(STYLES) };
  const js = { body: SCRIPT, etag: etag(SCRIPT) };
  for (const [path, asset, type] of [
    ['/static/dashboard.css', css, 'text/css; charset=utf-8'],
    ['/static/dashboard.js', js, 'text/javascript; charset=utf-8'],
  ] as const) {
    app.get(path, { config: { dashboardPublic: true } }, async (request, reply) => {
      void reply.header('ETag', asset.etag).header('Cache-Control', 'public, max-age=3600');
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.type(type).send(asset.body);
    });
  }

  const pages = pageRenderers(opts);
  signInRoutes(app, opts);
  pageRoutes(app, opts, pages);
  actionRoutes(app, opts, pages);

  app.setNotFoundHandler(async (request, reply) => {
    const session = await sessionOf(request, opts);
    if (!session) return toSignIn(request, reply);
    request.adminSession = session;
    return sendPage(reply, request, {
      title: 'Not found',
      nav: 'overview',
      status: 404,
      body: html`${pageHead('Not found')}
        <div class="card">
          <div class="card-body">
            <p>There is no page at <code>${request.url.split('?')[0]}</code>.</p>
            <p><a href="/admin/">Back to the overview</a></p>
          </div>
        </div>`,
    });
  });

  app.setErrorHandler(async (error, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500 && problem.code !== 'STORE_UNAVAILABLE')
      request.log.error(
        { err: error, route: request.routeOptions.url },
        'dashboard request failed',
      );
    if (problem.code === 'STORE_UNAVAILABLE') void reply.header('Retry-After', '1');
    const title = problem.code === 'SUBJECT_NOT_FOUND' ? 'Subject not found' : problem.title;
    const detail =
      error instanceof QuotaClockError || problem.status < 500
        ? problem.detail
        : 'Something went wrong on the server. It has been logged.';
    const body = html`${pageHead(title)}
      <div class="card">
        <div class="card-body">
          <p>${detail}</p>
          <p><a href="/admin/">Back to the overview</a></p>
        </div>
      </div>`;
    if (!request.adminSession)
      return sendHtml(
        reply,
        problem.status,
        renderBare(title, html`<div class="panel">${body}</div>`),
      );
    return sendPage(reply, request, { title, nav: 'overview', status: problem.status, body });
  });
};
