import { describe, expect, it } from 'vitest';
import { metricsPlugin } from '../../src/metrics/daemon-plugin.js';
import { ResetDaemon } from '../../src/schedule/daemon.js';
import { startDaemonHttp } from '../../src/schedule/daemon-http.js';
import { seededClock, tempDir } from './helpers.js';

describe('the daemon serves GET /metrics', () => {
  it('answers Prometheus text with the job metrics and the daemon’s state', async () => {
    const qc = await seededClock(tempDir());
    const daemon = new ResetDaemon({ quotaclock: qc });
    const server = await startDaemonHttp(daemon, { port: 0, plugins: [metricsPlugin(qc)] });
    try {
      const address = server.addresses()[0]!;
      const res = await fetch(`http://127.0.0.1:${address.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      expect(text).toContain('quotaclock_consume_requests_total{outcome="granted"} 94\n');
      expect(text).toContain('# TYPE quotaclock_daemon_up gauge\nquotaclock_daemon_up 1\n');
      expect(text).toMatch(/quotaclock_daemon_healthy 1\n/);
      expect((await fetch(`http://127.0.0.1:${address.port}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      await qc.close();
    }
  });
});
