import type { QuotaClock } from '../quotaclock.js';
import type { ResetDaemon } from '../schedule/daemon.js';
import type { DaemonHttpPlugin } from '../schedule/daemon-http.js';
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from './prometheus.js';

const gauge = (name: string, help: string, value: number, type: 'gauge' | 'counter' = 'gauge') =>
  `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;

/**
 * GET /metrics on the daemon's server: the same text as `quotaclock
 * metrics`, plus the daemon's own state.
 */
export function metricsPlugin(qc: QuotaClock): DaemonHttpPlugin {
  return async (app, { daemon }) => {
    app.get('/metrics', async (_request, reply) => {
      const text = (await renderMetrics(qc)) + daemonMetrics(daemon);
      return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(text);
    });
  };
}

/** The scheduler's own gauges; `serve --schedule` appends them to its /metrics. */
export function daemonMetrics(daemon: ResetDaemon): string {
  const s = daemon.status();
  const next = s.nextRun ? Date.parse(s.nextRun) / 1000 : 0;
  return (
    gauge('quotaclock_daemon_up', 'The daemon is serving.', 1) +
    gauge(
      'quotaclock_daemon_healthy',
      '0 when the daemon’s last run failed or it is stopping.',
      s.healthy && !daemon.stopping ? 1 : 0,
    ) +
    gauge(
      'quotaclock_daemon_next_run_timestamp_seconds',
      'When the daemon runs the reset next (0: not scheduled).',
      next,
    ) +
    gauge('quotaclock_daemon_runs_total', 'Runs since the daemon started.', s.runs, 'counter') +
    gauge(
      'quotaclock_daemon_run_failures_total',
      'Failed runs since the daemon started.',
      s.failures,
      'counter',
    )
  );
}
