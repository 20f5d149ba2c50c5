/**
 * A SQLite store with a month and a half of plausible traffic, API keys of
 * every kind, a failed close in the ledger, and a live `quotaclock serve` on
 * it (real process, real port). The server's business clock is pinned with
 * --now so the charts and periods are the same on every run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runReset } from '../../src/jobs/reset.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { cleanEnv, CLI, ensureBuilt, tempDir } from '../helpers/cli.js';

export const NOW = '2026-11-24T15:00:00Z';
export const NOW_MS = Date.parse(NOW);

export interface DashboardFixture {
  readonly url: string;
  readonly dir: string;
  readonly db: string;
  readonly config: string;
  /** Secrets of the seeded keys, by name. */
  readonly keys: Record<'lead' | 'auditor' | 'writer' | 'temp', string>;
  /** The library on the same store (same pinned clock), to check what the server wrote. */
  readonly qc: QuotaClock;
  log(): string;
  stop(): Promise<void>;
}

const PLANS = ['free', 'free', 'free', 'pro', 'pro', 'pro_plus', 'enterprise'];
const ZONES = ['Europe/Paris', 'America/New_York', 'Asia/Tokyo', null, 'America/Los_Angeles'];
const NAMES = [
  'Ana Souza',
  'Ben Okafor',
  'Chloé Martin',
  'Dmitri Ivanov',
  'Emma Larsen',
  'Farid Haddad',
  'Grace Kim',
  'Hugo Weber',
];

async function seed(
  dir: string,
  db: string,
): Promise<{ qc: QuotaClock; keys: DashboardFixture['keys'] }> {
  let now = Date.parse('2026-10-01T08:00:00Z');
  // Small batches, so a close can fail half done; no waiting for a held lease, so "run now" answers at once.
  const config = { store: db, reset: { batchSize: 5, waitForLeaseSeconds: 0 } };
  const qc = createQuotaClock({ config, clock: () => now });
  await qc.init();
  const subjects = Array.from({ length: 48 }, (_, i) => {
    const first = NAMES[i % NAMES.length]!;
    const handle = `${first
      .split(' ')[0]!
      .toLowerCase()
      .normalize('NFD')
      .replace(/[^a-z]/g, '')}${i < NAMES.length ? '' : i}`;
    return {
      id: `user_${String(i + 1).padStart(3, '0')}`,
      plan: PLANS[i % PLANS.length]!,
      email: `${handle}@${i % 3 ? 'example.com' : 'acme.io'}`,
      name: first,
      timeZone: ZONES[i % ZONES.length]!,
    };
  });
  // The support story's customer: on the free plan, at her limit by the 24th.
  subjects[0] = {
    id: 'ana',
    plan: 'free',
    email: 'ana.souza@acme.io',
    name: 'Ana Souza',
    timeZone: 'Europe/Paris',
  };
  await qc.importSubjects(subjects);
  let r = 11;
  const rand = () => (r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const appetite: Record<string, number> = { free: 0.45, pro: 1.9, pro_plus: 3.6, enterprise: 5 };
  for (const [month, days] of [
    [10, 31],
    [11, 24],
  ] as const) {
    for (let day = 1; day <= days; day++) {
      const weekday = new Date(Date.UTC(2026, month - 1, day)).getUTCDay();
      const busy = weekday === 0 || weekday === 6 ? 0.4 : 1;
      for (const [n, s] of subjects.entries()) {
        if (s.id === 'ana') continue;
        const want = Math.floor(rand() * appetite[s.plan]! * (0.5 + (n % 7) / 5) * busy * 1.6);
        for (let k = 0; k < want; k++) {
          now = Date.UTC(2026, month - 1, day, 8 + ((n + k) % 11), (n * 7 + k) % 60);
          await qc.consume(s.id, 'stock_reports', 1, {
            key: `r-${s.id}-${month}-${day}-${k}`,
            meta: { ticker: ['AAPL', 'MSFT', 'NVDA', 'ASML', 'SAP'][(n + k) % 5]! },
          });
        }
      }
    }
  }
  // Ana: ten reports through November, then refused three times today.
  const tickers = ['AAPL', 'TSLA', 'NVDA', 'AMZN', 'META', 'GOOG', 'NFLX', 'AMD', 'INTC', 'IBM'];
  for (const [i, ticker] of tickers.entries()) {
    now = Date.UTC(2026, 10, 3 + i * 2, 9, 30);
    await qc.consume('ana', 'stock_reports', 1, { key: `report-ana-${i + 1}`, meta: { ticker } });
  }
  for (let i = 0; i < 3; i++) {
    now = Date.UTC(2026, 10, 24, 13, 10 + i * 12);
    await qc.consume('ana', 'stock_reports', 1, {
      key: `report-ana-denied-${i + 1}`,
      meta: { ticker: 'ORCL' },
    });
  }
  now = Date.parse('2026-11-02T09:00:00Z');
  const keys = {
    lead: (await qc.keys.create({ name: 'support-lead', scopes: ['admin:write'] })).key,
    auditor: (await qc.keys.create({ name: 'auditor', scopes: ['admin:read'] })).key,
    writer: (await qc.keys.create({ name: 'web-app', scopes: ['quota:write'] })).key,
    temp: (await qc.keys.create({ name: 'contractor', scopes: ['admin:write'] })).key,
  };
  await qc.setPlan(
    'user_004',
    'pro_plus',
    {},
    { actor: 'cli', reason: 'Upgrade paid by invoice #1182' },
  );
  // The October close failed after its first batch: the store went away mid-run.
  now = Date.parse('2026-11-01T00:01:00Z');
  await runReset(qc, {
    afterBatch: () => {
      throw new Error('SQLITE_IOERR: disk I/O error (the volume was detached during the close)');
    },
  }).catch(() => undefined);
  now = NOW_MS;
  writeFileSync(join(dir, 'quotaclock.config.json'), JSON.stringify(config, null, 2));
  return { qc, keys };
}

export async function startDashboard(extraArgs: string[] = []): Promise<DashboardFixture> {
  ensureBuilt();
  const dir = tempDir('qc-dashboard-');
  const db = `sqlite:${join(dir, 'q.db')}?synchronous=normal`;
  const { qc, keys } = await seed(dir, db);
  const config = join(dir, 'quotaclock.config.json');
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'serve', '--config', config, '--port', '0', '--now', NOW, ...extraArgs],
    { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 20_000);
    const look = () => {
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out) ?? /listening on (http:\/\/\S+)/i.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace(/\/$/, ''));
      }
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
  });
  return {
    url,
    dir,
    db,
    config,
    keys,
    qc,
    log: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await qc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
