import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { ResetDaemon } from './daemon.js';

/** A route set mounted on the daemon's server, e.g. GET /metrics; it gets the daemon. */
export type DaemonHttpPlugin = FastifyPluginAsync<{ daemon: ResetDaemon }>;

export interface DaemonHttpOptions {
  readonly port: number;
  /** Default 127.0.0.1; 0.0.0.0 in a container. */
  readonly host?: string;
  /**
   * Extra routes. This is the hook for GET /metrics: a plugin that registers
   * it (reading daemon.status() and the job metrics) is passed here by the
   * daemon command.
   */
  readonly plugins?: readonly DaemonHttpPlugin[];
}

/**
 * The daemon's HTTP side, started only when --port is given.
 * GET /healthz: 200 with the daemon's status, 503 when the last run failed
 * or the daemon is stopping, so a probe or an uptime check notices.
 */
export async function startDaemonHttp(
  daemon: ResetDaemon,
  opts: DaemonHttpOptions,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_request, reply) => {
    const status = daemon.status();
    const ok = status.healthy && !daemon.stopping;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'failing', ...status });
  });
  for (const plugin of opts.plugins ?? []) await app.register(plugin, { daemon });
  await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  return app;
}
