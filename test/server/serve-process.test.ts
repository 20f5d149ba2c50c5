import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { call, seedKeys, startServe } from '../helpers/serve.js';

describe('the serve process (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qc-serve-proc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--workers 2 --schedule: two processes on one port, the scheduler folded into /healthz and /metrics, SIGTERM stops all with 0', async () => {
    const db = `sqlite:${join(dir, 'workers.db')}`;
    const { web } = await seedKeys(db, { web: ['quota:write'] });
    const served = await startServe(db, { args: ['--workers', '2', '--schedule'] });
    try {
      // Both workers listen (their "listening" lines carry their own pid).
      const deadline = Date.now() + 30_000;
      const pids = () =>
        new Set([...served.log().matchAll(/"pid":(\d+),"url":"http/g)].map((m) => m[1]));
      while (pids().size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(pids().size).toBe(2);
      const health = await call(`${served.url}/healthz`);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: 'ok', schedule: { state: expect.any(String) } });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(`${served.url}/v1/consume`, {
            key: web,
            body: { subject: 'w', feature: 'stock_reports', key: `w${i}` },
          }),
        ),
      );
      expect(results.filter((r) => r.body.granted === true)).toHaveLength(10);
      const metrics = await call(`${served.url}/metrics`);
      expect(metrics.text).toContain('quotaclock_daemon_up 1');
      expect(metrics.text).toMatch(
        /quotaclock_http_request_duration_seconds_count\{method="(GET|POST)",route="[^"]+",status="\d+"\} \d+/,
      );
    } finally {
      expect(await served.stop('SIGTERM')).toBe(0);
    }
    // No worker outlives the primary.
    for (const pid of new Set(
      [...served.log().matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])),
    )) {
      expect(() => process.kill(pid, 0)).toThrow();
    }
  });

  it('SIGINT stops it gracefully too', async () => {
    const served = await startServe(`sqlite:${join(dir, 'int.db')}`);
    expect((await call(`${served.url}/healthz`)).status).toBe(200);
    expect(await served.stop('SIGINT')).toBe(0);
    expect(served.log()).toContain('shutting down (SIGINT)');
  });

  it('--trust-proxy: the failed-login limit counts the client address from X-Forwarded-For', async () => {
    const db = `sqlite:${join(dir, 'proxy.db')}`;
    const { good } = await seedKeys(db, { good: ['quota:read'] });
    const served = await startServe(db, { args: ['--trust-proxy'] });
    try {
      const as = (ip: string, key: string) =>
        call(`${served.url}/v1/subjects/nobody`, { key, headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < 10; i++)
        expect((await as('203.0.113.7', 'qck_wrongwrongwrong')).status).toBe(401);
      expect((await as('203.0.113.7', good!)).status).toBe(429);
      expect((await as('198.51.100.2', good!)).status).toBe(404);
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });

  it('bad flags are refused with exit 2, naming the flag', async () => {
    for (const [flag, value] of [
      ['--port', '70000'],
      ['--workers', '0'],
      ['--session-ttl', 'soon'],
    ]) {
      const r = await runCli(['serve', '--db', `sqlite:${join(dir, 'flags.db')}`, flag!, value!], {
        cwd: dir,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(flag);
    }
  });
});
