import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { QuotaClockConfigInput } from '../../src/config/schema.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { ManualClock } from '../../src/schedule/clock.js';
import { ResetDaemon, type DaemonRun } from '../../src/schedule/daemon.js';
import { startDaemonHttp } from '../../src/schedule/daemon-http.js';
import { CLI, ensureBuilt, tempDir } from './helpers.js';

const T = (iso: string) => Date.parse(iso);

const open: QuotaClock[] = [];
const daemons: ResetDaemon[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
  await Promise.all(open.splice(0).map((q) => q.close().catch(() => undefined)));
});

function service(config: QuotaClockConfigInput, clock?: () => number): QuotaClock {
  const qc = createQuotaClock({ config, ...(clock ? { clock } : {}) });
  open.push(qc);
  return qc;
}

/** A store with `count` subjects whose usage sits in the period containing `at`. */
async function seed(
  count: number,
  at: string,
  config: QuotaClockConfigInput = {},
): Promise<QuotaClockConfigInput> {
  const db = join(tempDir('qc-daemon-'), 'quotaclock.db');
  const full = { ...config, store: `sqlite:${db}?synchronous=normal` };
  const qc = createQuotaClock({ config: full, clock: () => T(at) });
  await qc.init();
  await qc.importSubjects(
    Array.from({ length: count }, (_, i) => ({
      id: `u${String(i).padStart(5, '0')}`,
      plan: 'pro',
    })),
  );
  for (let i = 0; i < Math.min(count, 5); i += 1)
    await qc.consume(`u${String(i).padStart(5, '0')}`, 'stock_reports', 2);
  await qc.close();
  return full;
}

function daemon(
  qc: QuotaClock,
  clock: ManualClock,
  runs: DaemonRun[],
  extra: Partial<ConstructorParameters<typeof ResetDaemon>[0]> = {},
): ResetDaemon {
  const d = new ResetDaemon({ quotaclock: qc, clock, onRun: (r) => runs.push(r), ...extra });
  daemons.push(d);
  return d;
}

describe('quotaclock daemon', () => {
  it('two daemons on one store, a fake clock crossing the boundary: exactly one run', async () => {
    const config = await seed(20, '2026-10-15T09:00:00Z', { reset: { waitForLeaseSeconds: 10 } });
    const clock = new ManualClock(T('2026-10-31T23:00:00Z'));
    const runsA: DaemonRun[] = [];
    const runsB: DaemonRun[] = [];
    const a = daemon(service(config), clock, runsA).start();
    const b = daemon(service(config), clock, runsB).start();
    await clock.settled(2);
    // Nothing has ended yet: the start checks found nothing and ran no reset.
    expect([...runsA, ...runsB].map((r) => r.outcome)).toEqual(['idle', 'idle']);
    expect(a.status().nextRun).toBe('2026-11-01T00:01:00.000Z');

    clock.set(T('2026-11-01T00:01:00Z'));
    await clock.settled(2);

    const scheduled = [...runsA, ...runsB].filter((r) => r.reason === 'schedule');
    expect(scheduled).toHaveLength(2);
    expect(scheduled.every((r) => r.ok)).toBe(true);
    expect(scheduled.flatMap((r) => r.closed)).toEqual(['2026-10']);

    const store = await service(config).store();
    const runs = await store.listRuns(10);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ key: '2026-10', status: 'closed', attempts: 1 });
    const history = await service(config).history('u00000');
    expect(history.filter((h) => h.key === '2026-10' && h.closed)).toHaveLength(1);
    expect(b.status().nextRun).toBe('2026-12-01T00:01:00.000Z');
  });

  it('a daemon started after missed months closes them at once, oldest first', async () => {
    const config = await seed(10, '2026-08-20T12:00:00Z');
    const clock = new ManualClock(T('2026-10-15T08:00:00Z'));
    const runs: DaemonRun[] = [];
    daemon(service(config), clock, runs).start();
    await clock.settled(1);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      reason: 'start',
      ok: true,
      outcome: 'ok',
      closed: ['2026-08', '2026-09'],
    });
    const ledger = await (await service(config).store()).listRuns(10);
    expect(ledger.map((r) => [r.key, r.status])).toEqual([
      ['2026-09', 'closed'],
      ['2026-08', 'closed'],
    ]);
    expect(Date.parse(ledger[1]!.startedAt)).toBeLessThanOrEqual(Date.parse(ledger[0]!.startedAt));
  });

  it('checks hourly, and only runs a reset when an ended period is open', async () => {
    const config = await seed(5, '2026-10-20T12:00:00Z');
    const clock = new ManualClock(T('2026-10-31T22:10:00Z'));
    const runs: DaemonRun[] = [];
    // A schedule far away, so only the hourly check can close October.
    const d = daemon(service(config), clock, runs, { cron: '0 3 1 1 *' }).start();
    await clock.settled(1);
    clock.set(T('2026-10-31T23:10:00Z'));
    await clock.settled(1);
    expect(runs.map((r) => r.outcome)).toEqual(['idle', 'idle']);
    expect(d.status().runs).toBe(0);
    clock.set(T('2026-11-01T00:10:00Z'));
    await clock.settled(1);
    expect(runs[2]).toMatchObject({ reason: 'catch-up', outcome: 'ok', closed: ['2026-10'] });
    expect(d.status()).toMatchObject({ runs: 1, failures: 0, healthy: true });
  });

  it('stops gracefully: the run ends after a committed batch, releases the lease, and the next run resumes', async () => {
    const config = await seed(400, '2026-09-05T00:00:00Z', { reset: { batchSize: 25 } });
    const clock = new ManualClock(T('2026-10-02T00:00:00Z'));
    const runs: DaemonRun[] = [];
    const d = daemon(service(config), clock, runs).start();
    await d.stop(); // SIGTERM arrives while the start-up catch-up is closing September
    expect(d.status().state).toBe('stopped');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ reason: 'start', ok: true, outcome: 'interrupted' });

    const store = await service(config).store();
    const run = (await store.getRun('2026-09'))!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/interrupted by shutdown/);
    expect(run.checkpoint.cursor).not.toBeNull();
    // The lease was released: another holder takes it at once.
    expect(await store.acquireLease('reset', 'someone-else', 60_000, Date.now())).not.toBeNull();
    await store.releaseLease('reset', 'someone-else');

    const resumed: DaemonRun[] = [];
    const next = daemon(service(config), new ManualClock(T('2026-10-02T00:05:00Z')), resumed);
    const once = await next.catchUp('once');
    expect(once).toMatchObject({ ok: true, outcome: 'ok', closed: ['2026-09'] });
    const closed = await store.getRun('2026-09');
    expect(closed).toMatchObject({ status: 'closed', attempts: 2 });
    const qc = service(config);
    const histories = await Promise.all(['u00000', 'u00399'].map((id) => qc.history(id)));
    for (const h of histories)
      expect(h.filter((e) => e.key === '2026-09' && e.closed)).toHaveLength(1);
  });

  it('GET /healthz: 200 while healthy, 503 after a failed run', async () => {
    const config = await seed(3, '2026-10-10T00:00:00Z');
    const clock = new ManualClock(T('2026-10-20T00:00:00Z'));
    const good = daemon(service(config), clock, []).start();
    await clock.settled(1);
    const server = await startDaemonHttp(good, { port: 0 });
    try {
      const { port } = server.addresses()[0] as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'ok',
        state: 'idle',
        nextRun: '2026-11-01T00:01:00.000Z',
        schedule: { cron: '1 0 1 * *', timeZone: 'UTC' },
      });
    } finally {
      await server.close();
    }

    const broken = join(tempDir('qc-daemon-bad-'), 'broken.db');
    writeFileSync(broken, randomBytes(8192));
    const bad = daemon(
      service({ store: broken }),
      new ManualClock(T('2026-10-20T00:00:00Z')),
      [],
    ).start();
    const badServer = await startDaemonHttp(bad, { port: 0 });
    try {
      await new Promise<void>((resolve) => {
        const poll = () => (bad.status().lastRun ? resolve() : setTimeout(poll, 10));
        poll();
      });
      const { port } = badServer.addresses()[0] as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        status: 'failing',
        healthy: false,
        failures: 1,
        lastRun: { ok: false, outcome: 'failed' },
      });
    } finally {
      await badServer.close();
    }
  });

  it('refuses a schedule the daemon cannot read the same way as the other targets', () => {
    expect(() => new ResetDaemon({ quotaclock: service({}), cron: '0 0 0 1 * *' })).toThrow(
      expect.objectContaining({ code: 'SCHEDULE_UNSUPPORTED' }),
    );
  });
});

describe('quotaclock daemon (the command)', () => {
  it('--once closes what is due and exits 0; on a broken store it exits 1', async () => {
    ensureBuilt();
    const config = await seed(3, '2026-09-10T00:00:00Z');
    const dir = tempDir('qc-daemon-cli-');
    const ok = spawnSync(
      process.execPath,
      [CLI, 'daemon', '--once', '--db', String(config.store), '--log-level', 'silent'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/closed 2026-09/);
    const broken = join(dir, 'broken.db');
    writeFileSync(broken, randomBytes(8192));
    const bad = spawnSync(
      process.execPath,
      [CLI, 'daemon', '--once', '--db', broken, '--log-level', 'silent', '--json'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, outcome: 'failed' });
  });

  it('--once --now backfills as of that instant; --now without --once is refused', async () => {
    ensureBuilt();
    const config = await seed(2, '2026-08-10T00:00:00Z');
    const dir = tempDir('qc-daemon-now-');
    const args = [
      'daemon',
      '--db',
      String(config.store),
      '--log-level',
      'silent',
      '--now',
      '2026-09-01T00:05:00Z',
    ];
    const once = spawnSync(process.execPath, [CLI, ...args, '--once', '--json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(once.status, once.stderr).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ reason: 'once', closed: ['2026-08'] });
    const loop = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
    expect(loop.status).toBe(2);
    expect(loop.stderr).toMatch(/--now: a fixed clock only makes sense with --once/);
  });

  it('serves /healthz with --port and exits 0 on SIGTERM', async () => {
    ensureBuilt();
    const config = await seed(2, '2026-10-10T00:00:00Z');
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const child = spawn(
      process.execPath,
      [
        CLI,
        'daemon',
        '--db',
        String(config.store),
        '--port',
        String(port),
        '--log-level',
        'silent',
      ],
      {
        cwd: tempDir('qc-daemon-run-'),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    let status = 0;
    for (let i = 0; i < 200 && status === 0; i += 1) {
      try {
        status = (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/daemon stopped after \d+ run\(s\), 0 failed/);
  });
});
