import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyServerOptions,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import { QuotaClockError } from '../core/errors.js';
import { flushLogger, serviceLogger, type Logger } from '../log/logger.js';
import type { QuotaClock } from '../quotaclock.js';
import { requireKey } from './auth.js';
import { lazyChildLoggerFactory } from './lazy-request-logger.js';
import { FailedAuthLimiter } from './failed-auth.js';
import { sendProblem, toProblem } from './problem.js';
import { RequestMetrics } from './request-metrics.js';
import { adminRoutes, type AdminJobs } from './routes/admin.js';
import { dashboardPlugin } from './dashboard/plugin.js';
import { opsRoutes, type Health } from './routes/ops.js';
import { quotaRoutes } from './routes/quota.js';
import type { ServerState } from './state.js';

export type { ServerState } from './state.js';

/** 64 KiB: a body of exactly 65,536 bytes is accepted, one byte more is 413. */
export const BODY_LIMIT = 65_536;

export interface ServerOptions {
  readonly qc: QuotaClock;
  readonly logger: Logger;
  /** Take the client address from X-Forwarded-For (behind a proxy); it keys the failed-auth limit. */
  readonly trustProxy?: boolean;
  /** The scheduler's state, with --schedule: /healthz turns 503 when its last run failed. */
  readonly health?: () => Health;
  /** More Prometheus text for /metrics (the scheduler's gauges). */
  readonly extraMetrics?: () => string | Promise<string>;
  /** Dashboard session lifetime (serve --session-ttl). */
  readonly sessionTtlSeconds?: number;
  /** The close, verify and report, for /v1/admin (handed in by serve). */
  readonly jobs?: AdminJobs;
  /** Failed-auth limiter; tests pass one with their own clock. */
  readonly limiter?: FailedAuthLimiter;
}

const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched';

/** The HTTP service: /v1, /v1/admin, and the operational routes. Listening is the caller's job. */
export async function buildServer(opts: ServerOptions): Promise<{
  app: FastifyInstance;
  state: ServerState;
}> {
  const state: ServerState = { draining: false, metrics: new RequestMetrics(), routes: [] };
  const logger = serviceLogger(opts.logger);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request is written in onResponse, with no headers (keys, cookies) in it.
    logController: new LogController({ disableRequestLogging: true }),
    // Each request's child logger is made only when something is logged through it.
    childLoggerFactory:
      lazyChildLoggerFactory as unknown as FastifyServerOptions['childLoggerFactory'],
    bodyLimit: BODY_LIMIT,
    trustProxy: opts.trustProxy ?? false,
    // Late requests are answered by our own hook, as problem+json with Connection: close.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Ids of 10 KB are refused by the routes with a named field, not by the router with a bare 414.
    routerOptions: { maxParamLength: 20_000 },
  });
  const limiter = opts.limiter ?? new FailedAuthLimiter();
  // The request lines still buffered are written before the process moves on to closing the store.
  if (logger !== opts.logger) app.addHook('onClose', () => flushLogger(logger));

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      if (method !== 'HEAD') state.routes.push(`${method} ${route.url}`);
  });

  // JSON only: without the text/plain parser, any other content type is 415.
  app.removeContentTypeParser('text/plain');

  // The hooks that run on every request take a callback rather than returning a promise: they
  // have nothing to wait for, and each promise is an allocation and a microtask per request.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!state.draining) return done();
    void reply.header('Connection', 'close');
    // Answered here: fastify skips the rest of the request (done is not called).
    sendProblem(
      reply,
      new QuotaClockError('STORE_UNAVAILABLE', 'the server is shutting down; retry shortly'),
    );
  });
  app.addHook(
    'preHandler',
    requireKey((k) => opts.qc.keys.authenticate(k), limiter),
  );
  // The request line holds only what the hook below puts in it, all flat values (no key, cookie
  // or header), so none of the logger's redact paths (*.password, *.url, …) can ever match it;
  // without them pino skips a redaction pass over each of its fields, on every request.
  const requestLog = logger.child({}, { redact: [] });
  app.addHook('onResponse', (request, reply, done) => {
    const route = routeOf(request);
    state.metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    // request.log's level, so a route's own logLevel still decides.
    if ((request.log as Logger).isLevelEnabled('info'))
      requestLog.info(
        {
          reqId: request.id,
          method: request.method,
          route,
          status: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 100) / 100,
          ...(request.apiKey ? { key: request.apiKey.name } : {}),
        },
        'request',
      );
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500 && problem.code !== 'STORE_UNAVAILABLE')
      request.log.error({ err: error, route: routeOf(request) }, 'request failed');
    return sendProblem(reply, error);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      Object.assign(new Error(`no route ${request.method} ${request.url.split('?')[0]}`), {
        statusCode: 404,
      }),
    ),
  );

  await app.register(opsRoutes, { ...opts, state });
  await app.register(quotaRoutes, { qc: opts.qc, prefix: '/v1' });
  await app.register(adminRoutes, {
    qc: opts.qc,
    ...(opts.jobs ? { jobs: opts.jobs } : {}),
    prefix: '/v1/admin',
  });
  await app.register(dashboardPlugin, {
    qc: opts.qc,
    limiter,
    prefix: '/admin',
    sessionTtlSeconds: opts.sessionTtlSeconds,
  });
  return { app, state };
}
