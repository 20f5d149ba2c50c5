import type { FastifyPluginAsync } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from '../../metrics/prometheus.js';
import type { QuotaClock } from '../../quotaclock.js';
import { openApiDocument } from '../openapi.js';
import type { ServerState } from '../state.js';
import { sendProblem } from '../problem.js';
import { QuotaClockError } from '../../core/errors.js';
import { redact } from '../../log/redact.js';

export interface Health {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}

interface OpsOptions {
  readonly qc: QuotaClock;
  readonly state: ServerState;
  readonly health?: () => Health;
  readonly extraMetrics?: () => string | Promise<string>;
}

/** How long /readyz waits for the store before calling it down. */
const READY_TIMEOUT_MS = 2_000;

/** Liveness, readiness, Prometheus metrics and the OpenAPI document; none needs a key. */
export const opsRoutes: FastifyPluginAsync<OpsOptions> = async (app, opts) => {
  const { qc, state } = opts;

  app.get('/healthz', async (_request, reply) => {
    const health = opts.health?.() ?? { ok: true };
    const ok = health.ok && !state.draining;
    const { ok: _ok, ...detail } = health;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'failing', ...detail });
  });

  app.get('/readyz', async (_request, reply) => {
    if (state.draining)
      return sendProblem(reply, new QuotaClockError('STORE_UNAVAILABLE', 'shutting down'));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        // A read of a subject that cannot exist: one round trip, nothing created.
        (async () => (await qc.store()).getSubject('readyz.probe'))(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new QuotaClockError('STORE_UNAVAILABLE', 'the store did not answer in time')),
            READY_TIMEOUT_MS,
          );
        }),
      ]);
      return { status: 'ready' };
    } catch (e) {
      return sendProblem(
        reply,
        new QuotaClockError('STORE_UNAVAILABLE', 'the store is unavailable', { cause: e }),
      );
    } finally {
      clearTimeout(timer);
    }
  });

  app.get('/metrics', async (request, reply) => {
    const [store, extra] = await Promise.all([
      renderMetrics(qc).catch((e: unknown) => {
        // Safe to answer without them: the store's gauges are simply absent from this scrape (a
        // scraper reads that as "no data", not as zero), and the request histograms and the
        // scheduler's gauges, which live in this process, are still worth serving. Logged, so an
        // outage that only /metrics noticed is on record; one line per scrape at most.
        request.log.warn(
          { err: redact(e instanceof Error ? e.message : String(e)) },
          'metrics: the store did not answer; serving the process metrics without its gauges',
        );
        return '';
      }),
      opts.extraMetrics?.() ?? '',
    ]);
    return reply
      .header('content-type', PROMETHEUS_CONTENT_TYPE)
      .send(store + extra + state.metrics.render());
  });

  let spec: Record<string, unknown> | undefined;
  app.get('/openapi.json', async () => (spec ??= openApiDocument()));
};
