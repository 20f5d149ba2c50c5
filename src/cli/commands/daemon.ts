import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const [{ ResetDaemon }, { BadInputError }] = await Promise.all([
    import('../../schedule/daemon.js'),
    import('../../core/errors.js'),
  ]);
  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  if (ctx.nowMs !== undefined && opts.once !== true) {
    throw new BadInputError(
      '--now: a fixed clock only makes sense with --once (a backfill); the daemon runs on the real clock',
      '--now',
    );
  }
  const fixed = ctx.nowMs;
  const daemon = new ResetDaemon({
    quotaclock: qc,
    ...(fixed === undefined ? {} : { clock: { now: () => fixed, sleep: async () => undefined } }),
    ...(typeof opts.cron === 'string' ? { cron: opts.cron } : {}),
    ...(typeof opts.timeZone === 'string' ? { timeZone: opts.timeZone } : {}),
    logger,
  });

  if (opts.once === true) {
    // One catch-up check, then exit: 0 when nothing failed.
    const result = await daemon.catchUp('once');
    return {
      data: result,
      text: result.ok
        ? `${result.outcome === 'idle' ? 'nothing to close' : `closed ${result.closed.join(', ') || 'nothing'}`}`
        : `failed: ${result.error?.message}`,
      exitCode: result.ok ? 0 : 1,
    };
  }

  let port: number | undefined;
  if (opts.port !== undefined) {
    port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535)
      throw new BadInputError('--port: expected a port number 0-65535', '--port');
  }

  const stop = () => void daemon.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  daemon.start();
  let server: import('fastify').FastifyInstance | undefined;
  try {
    if (port !== undefined) {
      const { startDaemonHttp } = await import('../../schedule/daemon-http.js');
      const { metricsPlugin } = await import('../../metrics/daemon-plugin.js');
      server = await startDaemonHttp(daemon, {
        port,
        host: typeof opts.host === 'string' ? opts.host : '127.0.0.1',
        plugins: [metricsPlugin(qc)],
      });
      const address = server.addresses()[0];
      const where =
        address && typeof address === 'object'
          ? `${address.address}:${address.port}`
          : String(port);
      logger.info({ address: where }, `daemon: GET /healthz and GET /metrics on ${where}`);
    }
    await daemon.done;
  } catch (e) {
    await daemon.stop();
    throw e;
  } finally {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
    await server?.close();
  }
  const status = daemon.status();
  return {
    data: status,
    text: `daemon stopped after ${status.runs} run(s), ${status.failures} failed`,
  };
}
