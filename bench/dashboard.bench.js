// npm run bench:dashboard — the dashboard's speed targets (issue 16), on
// SQLite and on PostgreSQL, against a `quotaclock serve` process on 127.0.0.1:
//   (a) GET /admin/subjects at depth 20,000 pages (keyset `after`) against
//       page 1, with BENCH_SUBJECTS subjects: target ≤ 2×;
//   (b) GET /admin/subjects/{id} against the same reads made alone over the
//       admin API with a key (what the page's loader calls: the subject, then
//       its status, history and last 25 events): target ≤ 2×. The page's
//       daily chart is its own image (GET /admin/subjects/{id}/daily.svg),
//       timed too, against its reads alone (the status, then the period's
//       events in pages of 500); and the page with its chart against all of
//       those reads, which is what a browser waits for.
// Each kind is timed one request at a time, in alternating rounds (page 1,
// deep page, subject page, its API calls, chart, its API calls, page 1, …),
// so all see the same machine. Only ratios from one run are comparable.
//
// env: BENCH_ENGINES (sqlite,postgres), BENCH_SUBJECTS (1000000), BENCH_ROUNDS (5),
//      BENCH_REQUESTS (40 per kind per round), BENCH_EVENTS (300, the subject's
//      consumes this period), BENCH_POSTGRES_URL.
// A quick run: BENCH_SUBJECTS=50000 BENCH_ROUNDS=2 BENCH_REQUESTS=10 npm run bench:dashboard
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { createQuotaClock } from '../dist/index.js';
import { dropPostgresSchema } from '../dist/store/postgres/index.js';
import { machine } from './lib/machine.js';

const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',');
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 300);
const PG_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The dashboard's page size (src/server/dashboard/loaders.ts). */
const PAGE = 25;
const DEPTH_PAGES = 20_000;
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const SUBJECT = 'bench-customer';

const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (n) => n.toFixed(2);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const tmp = mkdtempSync(join(tmpdir(), 'qc-bench-dashboard-'));
const idOf = (j) => `s-${String(j).padStart(7, '0')}`;

/** Starts `quotaclock serve` and resolves with its URL once it listens. */
function serve(db) {
  const child = spawn(process.execPath, [CLI, 'serve', '--db', db, '--port', '0'], {
    env: { ...process.env, QUOTACLOCK_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 60_000);
    const onData = (d) => {
      err += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(err);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.off('data', onData);
      child.stderr.resume();
      resolve({ url: m[1], child });
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
}

async function stop(p) {
  if (p.child.exitCode !== null) return;
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await done;
}

/** A fresh store: SUBJECTS subjects, one customer with EVENTS consumes this period, one key. */
async function prepare(engine) {
  const db =
    engine === 'sqlite'
      ? `sqlite:${join(tmp, 'dashboard.db')}`
      : (() => {
          const u = new URL(PG_URL);
          u.searchParams.set('schema', `qc_bench_dash_${process.pid}`);
          return u.toString();
        })();
  if (engine === 'postgres') await dropPostgresSchema(db);
  const qc = createQuotaClock({ config: { store: db } });
  await qc.init();
  const t0 = Date.now();
  const CHUNK = 10_000;
  for (let i = 0; i < SUBJECTS; i += CHUNK) {
    const rows = [];
    for (let j = i; j < Math.min(SUBJECTS, i + CHUNK); j += 1)
      rows.push({ id: idOf(j), email: `user${j}@example.com` });
    await qc.importSubjects(rows);
  }
  const seedSeconds = (Date.now() - t0) / 1000;
  await qc.addSubject({
    id: SUBJECT,
    plan: 'pro',
    email: 'customer@example.com',
    overrides: { stock_reports: 1_000_000 },
  });
  // Spread over the last days of this period (never before its start), newest last.
  const now = Date.now();
  const periodStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const step = Math.max(1, Math.floor((now - periodStart - 60_000) / EVENTS));
  for (let i = 0; i < EVENTS; i += 1)
    await qc.consume(SUBJECT, 'stock_reports', 1, {
      key: `order-${i}`,
      now: now - (EVENTS - i) * step,
    });
  const key = (await qc.keys.create({ name: 'bench-admin', scopes: ['admin:read', 'quota:read'] }))
    .key;
  await qc.close();
  return { db, key, seedSeconds };
}

async function signIn(url, key) {
  const res = await globalThis.fetch(`${url}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
    body: new globalThis.URLSearchParams({ key }),
  });
  const cookie = /qc_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '');
  if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status}`);
  return cookie[0];
}

async function get(url, headers, expect = 'text') {
  const res = await globalThis.fetch(url, { headers });
  const body = expect === 'json' ? await res.json() : await res.text();
  if (res.status !== 200)
    throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  return body;
}

/** The subject page's reads, made alone over HTTP in the loader's order. */
async function pageCalls(url, key) {
  const h = { authorization: `Bearer ${key}` };
  const id = encodeURIComponent(SUBJECT);
  await get(`${url}/v1/admin/subjects/${id}`, h, 'json');
  await Promise.all([
    get(`${url}/v1/subjects/${id}`, h, 'json'),
    get(`${url}/v1/subjects/${id}/history`, h, 'json'),
    get(`${url}/v1/admin/subjects/${id}/events?limit=25`, h, 'json'),
  ]);
}

/** The daily chart's reads alone: the status, then the period's events, 500 at a time, at most 2,000. */
async function chartCalls(url, key) {
  const h = { authorization: `Bearer ${key}` };
  const id = encodeURIComponent(SUBJECT);
  const { period } = await get(`${url}/v1/subjects/${id}`, h, 'json');
  const periodKey = period.key;
  let after = null;
  let read = 0;
  for (;;) {
    const page = await get(
      `${url}/v1/admin/subjects/${id}/events?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`,
      h,
      'json',
    );
    read += page.items.length;
    const older = page.items.some((e) => e.periodKey !== periodKey);
    if (older || !page.next || read >= 2000) break;
    after = page.next;
  }
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function benchEngine(engine) {
  log(`\n== ${engine}: seeding ${SUBJECTS.toLocaleString('en-US')} subjects ==`);
  const s = await prepare(engine);
  log(`  seeded in ${s.seedSeconds.toFixed(0)} s`);
  const p = await serve(s.db);
  const out = { engine, seedSeconds: s.seedSeconds, rounds: [], loadBefore: load() };
  try {
    const cookie = { cookie: await signIn(p.url, s.key) };
    const depth = Math.min(DEPTH_PAGES, Math.floor(SUBJECTS / PAGE) - 1);
    const deepAfter = idOf(depth * PAGE - 1);
    out.depth = depth;
    const pages = {
      first: `${p.url}/admin/subjects`,
      deep: `${p.url}/admin/subjects?after=${deepAfter}`,
      subject: `${p.url}/admin/subjects/${SUBJECT}`,
    };
    // Each page must show what it should, or the timing means nothing.
    const deepHtml = await get(pages.deep, cookie);
    if (!deepHtml.includes(idOf(depth * PAGE)))
      throw new Error(`the deep page does not start at ${idOf(depth * PAGE)}`);
    if (!(await get(pages.subject, cookie)).includes('order-'))
      throw new Error('the subject page shows no ledger');
    const chart = `${pages.subject}/daily.svg?size=wide`;
    if (!(await get(chart, cookie)).startsWith('<svg')) throw new Error('the chart is no SVG');
    const kinds = {
      first: () => get(pages.first, cookie),
      deep: () => get(pages.deep, cookie),
      subject: () => get(pages.subject, cookie),
      api: () => pageCalls(p.url, s.key),
      chart: () => get(chart, cookie),
      chartApi: () => chartCalls(p.url, s.key),
    };
    // Warm-up: JIT, prepared statements, the store's caches.
    for (const fn of Object.values(kinds)) for (let i = 0; i < 10; i += 1) await fn();
    for (let r = 0; r < ROUNDS; r += 1) {
      const round = {};
      for (const [name, fn] of Object.entries(kinds)) {
        const times = [];
        for (let i = 0; i < REQUESTS; i += 1) times.push(await timed(fn));
        round[name] = median(times);
      }
      out.rounds.push(round);
      log(
        `  round ${r + 1}: page 1 ${ms(round.first)} ms, depth ${depth.toLocaleString('en-US')} ${ms(round.deep)} ms (${(round.deep / round.first).toFixed(2)}), subject page ${ms(round.subject)} ms, its API calls ${ms(round.api)} ms (${(round.subject / round.api).toFixed(2)}), chart ${ms(round.chart)} ms, its API calls ${ms(round.chartApi)} ms; load ${load()}`,
      );
    }
    out.loadAfter = load();
  } finally {
    await stop(p);
    if (engine === 'postgres') await dropPostgresSchema(s.db);
  }
  return out;
}

function report(results) {
  const lines = [
    '',
    `Machine: ${machine()}; nproc ${availableParallelism()}.`,
    `${SUBJECTS.toLocaleString('en-US')} subjects, pages of ${PAGE}; ${ROUNDS} rounds × ${REQUESTS} requests per kind; medians per round, then the median round.`,
    '',
    '| figure | ' + results.map((r) => r.engine).join(' | ') + ' | target |',
    '| --- | ' + results.map(() => '---').join(' | ') + ' | --- |',
  ];
  const med = (r, k) => median(r.rounds.map((x) => x[k]));
  const ratio = (r, a, b) => median(r.rounds.map((x) => x[a] / x[b]));
  const row = (label, cell, target) =>
    lines.push(`| ${label} | ${results.map(cell).join(' | ')} | ${target} |`);
  const rounds = (r, f) => r.rounds.map((x) => f(x).toFixed(2)).join(', ');
  row(
    'subjects page at depth 20,000 / page 1: medians; the ratio per round; **its median**',
    (r) =>
      `${ms(med(r, 'deep'))} / ${ms(med(r, 'first'))} ms; ${rounds(r, (x) => x.deep / x.first)}; **${ratio(r, 'deep', 'first').toFixed(2)}** (depth ${r.depth.toLocaleString('en-US')})`,
    '≤ 2',
  );
  row(
    'subject page / its admin API calls alone',
    (r) =>
      `${ms(med(r, 'subject'))} / ${ms(med(r, 'api'))} ms; ${rounds(r, (x) => x.subject / x.api)}; **${ratio(r, 'subject', 'api').toFixed(2)}**`,
    '≤ 2',
  );
  row(
    "the chart image / its reads alone (status, the period's events)",
    (r) =>
      `${ms(med(r, 'chart'))} / ${ms(med(r, 'chartApi'))} ms; ${rounds(r, (x) => x.chart / x.chartApi)}; **${ratio(r, 'chart', 'chartApi').toFixed(2)}**`,
    'reported',
  );
  const both = (x) => (x.subject + x.chart) / (x.api + x.chartApi);
  row(
    'page + chart / all their reads alone',
    (r) => `${rounds(r, both)}; **${median(r.rounds.map(both)).toFixed(2)}**`,
    'reported',
  );
  row('seeding', (r) => `${r.seedSeconds.toFixed(0)} s`, '');
  row('load average (1, 5, 15 min) before → after', (r) => `${r.loadBefore} → ${r.loadAfter}`, '');
  console.log(lines.join('\n'));
}

try {
  log(`machine: ${machine()}; nproc ${availableParallelism()}; load ${load()}`);
  const results = [];
  for (const engine of ENGINES) results.push(await benchEngine(engine));
  report(results);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
