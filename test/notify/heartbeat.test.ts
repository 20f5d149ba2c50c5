import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { createHeartbeat } from '../../src/notify/heartbeat.js';
import { createQuotaClock, policyFromConfig } from '../../src/quotaclock.js';
import { openStore, parseStoreUrl } from '../../src/store/open-store.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import {
  capturingLogger,
  closedPort,
  FAST_RETRY,
  seededClock,
  startReceiver,
  tempDir,
  type Receiver,
} from './helpers.js';

describe('heartbeat pings and failure notices around runScheduledReset', () => {
  let rx: Receiver;
  beforeEach(async () => {
    rx = await startReceiver();
  });
  afterEach(async () => {
    await rx.close();
  });
  const env = () => ({
    QUOTACLOCK_HEARTBEAT_URL: `${rx.base}/ping/abc-uuid`,
    QUOTACLOCK_WEBHOOK_URL: `${rx.base}/hook`,
    QUOTACLOCK_WEBHOOK_SECRET: 'heartbeat-test-secret',
  });
  const config = {
    reset: { batchSize: 2 },
    notify: {
      retry: FAST_RETRY,
      events: ['reset.succeeded', 'reset.failed', 'reset.partial'] as const,
      targets: [{ type: 'webhook' as const }],
    },
  };

  it('pings start, then success with the run summary (healthchecks.io style URLs)', async () => {
    const qc = await seededClock(tempDir(), config);
    qc.setNow('2026-11-01T00:05:00Z');
    const report = await runScheduledReset(qc, { env: env() });
    await qc.close();
    expect(rx.requests.map((r) => r.path)).toEqual([
      '/ping/abc-uuid/start',
      '/hook',
      '/ping/abc-uuid',
    ]);
    expect(rx.requests[2]!.headers['content-type']).toMatch(/^text\/plain/);
    expect(rx.requests[2]!.body).toContain('2026-10: closed 5 subject(s)');
    expect(report.notifications!.map((d) => [d.target, d.ok])).toEqual([
      ['heartbeat:start', true],
      ['webhook', true],
      ['heartbeat:success', true],
    ]);
  });

  it('on failure: the failure ping, reset.failed with the period and the subjects closed so far, and the error rethrown', async () => {
    const dir = tempDir();
    const seeded = await seededClock(dir, config);
    await seeded.close();
    const cfg = parseConfig({ store: `sqlite:${join(dir, 'q.db')}`, ...config });
    const real = await openStore(parseStoreUrl(cfg.store), policyFromConfig(cfg));
    let calls = 0;
    const broken = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'closeBatch') {
          return async (...args: Parameters<QuotaStore['closeBatch']>) => {
            calls += 1;
            if (calls === 2) throw new Error('disk I/O error while closing');
            return target.closeBatch(...args);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const qc = createQuotaClock({
      config: cfg,
      store: broken,
      clock: () => Date.parse('2026-11-01T00:05:00Z'),
    });
    const { logger, lines } = capturingLogger();
    await expect(runScheduledReset(qc, { env: env(), logger })).rejects.toThrow(
      /disk I\/O error while closing/,
    );
    const store = await qc.store();
    expect((await store.getRun('2026-10'))!.status).toBe('failed');
    const metrics = await store.jobMetrics();
    await qc.close();

    expect(rx.requests.map((r) => r.path)).toEqual([
      '/ping/abc-uuid/start',
      '/hook',
      '/ping/abc-uuid/fail',
    ]);
    const doc = JSON.parse(rx.requests[1]!.body);
    expect(doc).toMatchObject({
      event: 'reset.failed',
      severity: 'error',
      period: '2026-10',
      counts: { subjectsClosed: 2, errors: 1 },
    });
    expect(doc.text).toContain('disk I/O error while closing');
    expect(rx.requests[2]!.body).toContain('reset FAILED');
    expect(lines.some((l) => l.includes('"level":"error"') && l.includes('reset failed'))).toBe(
      true,
    );
    const byName = (name: string) => metrics.filter((m) => m.name === name);
    expect(byName('quotaclock_reset_last_run_success')[0]!.value).toBe(0);
    expect(byName('quotaclock_reset_runs_total')).toEqual([
      expect.objectContaining({ labels: { outcome: 'failed' }, value: 1 }),
    ]);
  });

  it('a heartbeat that is down never fails the reset', async () => {
    const qc = await seededClock(tempDir(), config);
    qc.setNow('2026-11-01T00:05:00Z');
    const report = await runScheduledReset(qc, {
      env: { ...env(), QUOTACLOCK_HEARTBEAT_URL: `http://127.0.0.1:${await closedPort()}/ping/x` },
    });
    await qc.close();
    expect(report.outcome).toBe('ok');
    expect(report.periods[0]!.status).toBe('closed');
    const hb = report.notifications!.filter((d) => d.kind === 'heartbeat');
    expect(hb.map((d) => [d.target, d.ok])).toEqual([
      ['heartbeat:start', false],
      ['heartbeat:success', false],
    ]);
    expect(hb[0]!.error).toMatch(/heartbeat:start: request failed: ECONNREFUSED/);
  });

  it('a run that finds the lease held sends no event (the holder reports) but pings success', async () => {
    const qc = await seededClock(tempDir(), {
      ...config,
      reset: { batchSize: 2, waitForLeaseSeconds: 0 },
    });
    qc.setNow('2026-11-01T00:05:00Z');
    const store = await qc.store();
    expect(
      await store.acquireLease('reset', 'other-host:1:abc', 600_000, Date.now()),
    ).not.toBeNull(); // leases run on the wall clock
    const report = await runScheduledReset(qc, { env: env() });
    const metrics = await store.jobMetrics();
    await qc.close();
    expect(report.outcome).toBe('lease_held');
    expect(rx.requests.map((r) => r.path)).toEqual(['/ping/abc-uuid/start', '/ping/abc-uuid']);
    expect(metrics.map((m) => [m.name, m.labels, m.value])).toEqual([
      ['quotaclock_reset_runs_total', { outcome: 'lease_held' }, 1],
    ]);
  });

  it('explicit start, success and failure URLs from env or files', async () => {
    const hb = createHeartbeat(
      {
        start: { env: 'HB_START' },
        success: { env: 'HB_OK' },
        failure: { env: 'HB_FAIL' },
        timeoutMs: 2000,
        attempts: 1,
      },
      { HB_START: `${rx.base}/s`, HB_OK: `${rx.base}/ok`, HB_FAIL: `${rx.base}/bad` },
    )!;
    await hb.ping('start');
    await hb.ping('failure', 'boom');
    await hb.ping('success');
    expect(rx.requests.map((r) => [r.path, r.body])).toEqual([
      ['/s', ''],
      ['/bad', 'boom'],
      ['/ok', ''],
    ]);
    expect(createHeartbeat(null, {})).toBeNull();
  });
});
