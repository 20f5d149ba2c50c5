import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import type { ServerState } from './state.js';

export interface Listening {
  readonly url: string;
  /** Resolves once a shutdown has finished: every accepted request answered, the server closed. */
  readonly closed: Promise<void>;
  /** Starts the shutdown (what SIGTERM and SIGINT do). */
  shutdown(reason: string): Promise<void>;
}

/**
 * Listens, and shuts down gracefully on SIGTERM or SIGINT: requests read from
 * then on are answered 503 with Connection: close, every request already in
 * flight gets its answer (with Connection: close, so its connection ends),
 * idle keep-alive connections are closed first so close() does not wait on
 * them, and the onClose hooks (the scheduler) run before `closed` resolves.
 */
export async function listen(
  app: FastifyInstance,
  state: ServerState,
  opts: { host: string; port: number; logger: Logger },
): Promise<Listening> {
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (state.draining) void reply.header('Connection', 'close');
    done(null, payload);
  });
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = address && typeof address === 'object' ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const shutdown = (reason: string) => {
    closing ??= (async () => {
      opts.logger.info({ reason }, `shutting down (${reason}): answering requests in flight`);
      state.draining = true;
      // Node drops idle keep-alive sockets on close(); closing them first means none is mid-request.
      app.server.closeIdleConnections();
      await app.close();
      process.removeListener('SIGTERM', onTerm);
      process.removeListener('SIGINT', onInt);
      resolveClosed();
    })();
    return closing;
  };
  const onTerm = () => void shutdown('SIGTERM');
  const onInt = () => void shutdown('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  opts.logger.info({ url }, `listening on ${url}`);
  return { url, closed, shutdown };
}
