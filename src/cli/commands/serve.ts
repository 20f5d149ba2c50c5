import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const { BadInputError } = await import('../../core/errors.js');
  const flag = (name: string, value: unknown, min: number, max: number): number => {
    const n = Number(value);
    if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max)
      throw new BadInputError(`${name}: expected a whole number from ${min} to ${max}`, name);
    return n;
  };
  const port = flag('--port', opts.port, 0, 65_535);
  const workers = flag('--workers', opts.workers, 1, 64);
  const sessionTtlSeconds = flag('--session-ttl', opts.sessionTtl, 60, 31_536_000);
  const host = typeof opts.host === 'string' ? opts.host : '127.0.0.1';
  if (opts.schedule === true && ctx.nowMs !== undefined)
    throw new BadInputError(
      '--now: the scheduler runs on the real clock; drop --now or --schedule',
      '--now',
    );

  const { isWorker, runPrimary } = await import('../../server/cluster.js');
  if (workers > 1 && !isWorker()) {
    // Check the config and the store URL once here, so a mistake is one clear error, not N.
    await ctx.quotaclock();
    const code = await runPrimary(workers, await ctx.logger());
    return { data: { stopped: true, workers }, text: 'stopped', exitCode: code };
  }

  const qc = await ctx.quotaclock();
  const logger = await ctx.logger();
  // No setup step beyond a key: the schema is created or upgraded here (idempotent). A store
  // that is down now is not fatal: /readyz and every /v1 answer say 503 until it is back.
  await qc.init().catch(async (e: unknown) => {
    const { redact } = await import('../../log/redact.js');
    logger.warn({ err: redact((e as Error).message) }, 'the store is not ready; 503 until it is');
  });
  let daemon: import('../../schedule/daemon.js').ResetDaemon | undefined;
  if (opts.schedule === true) {
    const { ResetDaemon } = await import('../../schedule/daemon.js');
    daemon = new ResetDaemon({ quotaclock: qc, logger }).start();
  }
  const [{ buildServer }, { listen }, { daemonMetrics }] = await Promise.all([
    import('../../server/app.js'),
    import('../../server/listen.js'),
    import('../../metrics/daemon-plugin.js'),
  ]);
  const { app, state } = await buildServer({
    qc,
    logger,
    jobs: {
      // The same paths as `quotaclock reset`, `verify` and `report`: the lease, notifications, heartbeats.
      async close(dryRun) {
        const { runScheduledReset } = await import('../../jobs/reset-all.js');
        return runScheduledReset(qc, { trigger: 'http', dryRun, logger });
      },
      async verify() {
        const { runVerifyAndNotify } = await import('../../notify/verify-monitor.js');
        return runVerifyAndNotify(qc, { logger, trigger: 'http' });
      },
      async report(period) {
        const { buildUsageReport } = await import('../../report/usage-report.js');
        return buildUsageReport(qc, period === undefined ? {} : { period });
      },
    },
    trustProxy: opts.trustProxy === true,
    sessionTtlSeconds,
    ...(daemon
      ? {
          health: () => {
            const s = daemon.status();
            return { ok: s.healthy && !daemon.stopping, schedule: s };
          },
          extraMetrics: () => daemonMetrics(daemon),
        }
      : {}),
  });
  // The scheduler stops after the last request is answered, before the store closes.
  app.addHook('onClose', async () => {
    await daemon?.stop();
  });
  const server = await listen(app, state, { host, port, logger });
  await server.closed;
  if (isWorker()) {
    // The store closes (observers drain) before the worker leaves the cluster.
    await qc.close();
    (await import('../../server/cluster.js')).leaveCluster();
  }
  return { data: { stopped: true, url: server.url }, text: `stopped (${server.url})` };
}
