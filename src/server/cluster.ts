import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log/logger.js';

/**
 * The primary of `serve --workers N`: forks N copies of this same command,
 * which share the listening port, and keeps N alive. On SIGTERM or SIGINT it
 * passes the signal to each worker, which shuts down gracefully, and resolves
 * once all have exited: 0 when every worker exited cleanly.
 */
export function runPrimary(workers: number, logger: Logger): Promise<number> {
  let stopping = false;
  let failed = false;
  const listened = new Set<number>();
  const fork = (): Worker => cluster.fork();
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, `stopping ${Object.keys(cluster.workers ?? {}).length} worker(s)`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    cluster.on('listening', (worker) => listened.add(worker.id));
    cluster.on('exit', (worker, code, signal) => {
      if (code !== 0) failed = true;
      if (!stopping && !listened.has(worker.id)) {
        // It died starting (the port is taken, the config is bad): forking again would loop.
        logger.error({ worker: worker.process.pid, code }, 'a worker failed to start; stopping');
        stop('SIGTERM');
      } else if (!stopping) {
        logger.error(
          { worker: worker.process.pid, code, signal },
          'a worker exited; starting another in its place',
        );
        failed = false;
        fork();
        return;
      }
      if (!stopping) return;
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        process.removeListener('SIGTERM', onTerm);
        process.removeListener('SIGINT', onInt);
        resolve(failed ? 1 : 0);
      }
    });
    for (let i = 0; i < workers; i++) fork();
  });
}

export const isWorker = (): boolean => cluster.isWorker;

/**
 * A worker whose server has closed leaves the cluster, so its IPC channel no
 * longer keeps it alive. worker.disconnect() marks the exit as intended; a
 * bare process.disconnect() would make Node exit the worker at once.
 */
export function leaveCluster(): void {
  cluster.worker?.disconnect();
}
