// npm run bench:http — the service against its floors (API.md "Targets"), on
// SQLite and on PostgreSQL, each contender its own process on 127.0.0.1:
//   C0:   a fastify hello-world JSON route (the ceiling);
//   C1:   a hand-written fastify route doing the same work as ours: parse the
//         body, check the Bearer key's hash in the store, guarded counter
//         upsert + event row in one transaction (bench/lib/http-contenders.js);
//   ours: `quotaclock serve`, POST /v1/consume with a key.
// Rounds alternate C0, C1, ours at the same connections and pipelining, so
// all three see the same machine; the table gives each round and the median.
// Then: p99 of ours and C1 at half of C1's peak rate; POST /v1/batch of 100
// consumes in units/s against single consumes; the serve process's peak RSS
// under load; and GET /v1/admin/subjects at depth 20,000 pages against page 1
// with BENCH_SUBJECTS subjects. Only ratios from one run are comparable.
//
// Every contender runs as deployed: ours at its default log level, so it writes its one
// line per request (API.md), which C1 does not.
//
// env: BENCH_ENGINES (sqlite,postgres), BENCH_SECONDS (per contender per round, 5),
//      BENCH_ROUNDS (3), BENCH_CONNECTIONS (16), BENCH_PIPELINING (1),
//      BENCH_SUBJECTS (1000000), BENCH_PAGE (50), BENCH_POSTGRES_URL;
//      BENCH_DIR (where the SQLite file goes; the system's temp folder by default. On a
//        disk other processes are busy with, fsync times swing and drown the servers' own
//        cost; /dev/shm keeps the same statements and pragmas without the disk);
//      BENCH_SPREAD (1: how many subjects the single consumes go round. 1 is one hot counter
//        row, the worst case for a store that serialises writes to one row);
//      BENCH_BASELINE_CLI (another build's dist/cli/main.js: it joins the rounds as "base",
//        after ours, so a change is measured against what it replaces in the same run).
// A smoke run: BENCH_ENGINES=sqlite BENCH_SECONDS=2 BENCH_ROUNDS=1 BENCH_SUBJECTS=20000 BENCH_PAGE=1.
import { spawn } from 'node:child_process';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createQuotaClock } from '../dist/index.js';
import { dropPostgresSchema } from '../dist/store/postgres/index.js';
import { machine } from './lib/machine.js';

const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PIPELINING = Number(process.env.BENCH_PIPELINING ?? 1);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 1_000_000);
const PAGE = Number(process.env.BENCH_PAGE ?? 50);
const DEPTH_PAGES = 20_000;
// The deep page must exist: refuse at the start rather than after the consume rounds.
if (SUBJECTS < DEPTH_PAGES * PAGE) {
  console.error(
    `BENCH_SUBJECTS=${SUBJECTS} is too few for page ${DEPTH_PAGES.toLocaleString('en-US')} of BENCH_PAGE=${PAGE}: ` +
      `give at least ${(DEPTH_PAGES * PAGE).toLocaleString('en-US')} subjects, or a smaller BENCH_PAGE (e.g. BENCH_PAGE=1)`,
  );
  process.exit(2);
}
const PG_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const CONTENDERS = new URL('./lib/http-contenders.js', import.meta.url).pathname;
const SUBJECT = 'bench-user';
const BODY = JSON.stringify({ subject: SUBJECT, feature: 'stock_reports', amount: 1 });
const SPREAD = Math.max(1, Number(process.env.BENCH_SPREAD ?? 1));
const spreadIds = Array.from({ length: SPREAD }, (_, i) => (i === 0 ? SUBJECT : `${SUBJECT}-${i}`));
const spreadBodies = spreadIds.map((subject) =>
  JSON.stringify({ subject, feature: 'stock_reports', amount: 1 }),
);
let nextBody = 0;

const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (x) => `[${Math.round(x.cpuUs)} µs CPU/req]`;
const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
const tmp = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'qc-bench-http-'));
const BASELINE_CLI = process.env.BENCH_BASELINE_CLI;
const children = new Set();

/** Starts a process that prints {"url": …} on stderr when it listens. */
function start(args, env = {}) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start: ${err}`)), 60_000);
    const onData = (d) => {
      err += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(err);
      if (m) {
        clearTimeout(timer);
        // Past the start line the log (one line per request) is drained unread, so that
        // reading it costs this process, which also runs autocannon, nothing.
        child.stderr.off('data', onData);
        child.stderr.resume();
        resolve({ url: m[1], child });
      }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${err}`));
    });
  });
}

async function stop(p) {
  if (p.child.exitCode !== null) return;
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await done;
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * One autocannon run; with pid, samples that process's RSS (its peak) and the CPU time it
 * used per request answered. CPU per request is what the server itself costs: unlike req/s it
 * barely moves when other processes share the cores, so it is the figure to compare on a busy
 * machine (time spent waiting for fsync is not CPU, and is not in it).
 */
async function load({
  url,
  path = '/v1/consume',
  method = 'POST',
  body = BODY,
  key,
  rate,
  pid,
  seconds = SECONDS,
}) {
  let peak = 0;
  const timer = pid ? setInterval(() => (peak = Math.max(peak, rssMb(pid))), 200) : null;
  const cpu0 = pid ? cpuSeconds(pid) : NaN;
  const r = await autocannon({
    url: url + path,
    method,
    ...(method === 'POST' ? { body } : {}),
    // BENCH_SPREAD: the single consumes go round the subjects, one counter row each.
    ...(body === BODY && SPREAD > 1
      ? {
          requests: [
            {
              setupRequest: (req) => ({
                ...req,
                body: spreadBodies[(nextBody = (nextBody + 1) % SPREAD)],
              }),
            },
          ],
        }
      : {}),
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
  });
  if (timer) clearInterval(timer);
  const cpuUs = ((cpuSeconds(pid) - cpu0) / Math.max(1, r.requests.total)) * 1e6;
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0)
    throw new Error(
      `${method} ${path}: ${bad} failed of ${r.requests.total} (non-2xx ${r.non2xx}, errors ${r.errors})`,
    );
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    mean: r.latency.average,
    rss: peak,
    cpuUs,
  };
}

/** A fresh store with the reference plans, one subject with room to spare, and two keys. */
async function prepare(engine) {
  const db =
    engine === 'sqlite'
      ? `sqlite:${join(tmp, 'bench.db')}`
      : (() => {
          const u = new URL(PG_URL);
          u.searchParams.set('schema', `qc_bench_http_${process.pid}`);
          return u.toString();
        })();
  if (engine === 'postgres') await dropPostgresSchema(db);
  const qc = createQuotaClock({ config: { store: db } });
  await qc.init();
  for (const id of spreadIds)
    await qc.addSubject({ id, overrides: { stock_reports: 1_000_000_000_000 } });
  const writer = (await qc.keys.create({ name: 'bench', scopes: ['quota:write'] })).key;
  const admin = (await qc.keys.create({ name: 'bench-admin', scopes: ['admin:read'] })).key;
  return { db, qc, writer, admin, c1Store: engine === 'sqlite' ? join(tmp, 'bench.db') : db };
}

/** Median latency (ms) of one page, fetched one request at a time. */
async function pageLatency(url, key, n = 200) {
  const times = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = process.hrtime.bigint();
    const res = await globalThis.fetch(url, { headers: { authorization: `Bearer ${key}` } });
    const body = await res.json();
    if (res.status !== 200 || !Array.isArray(body.items) || body.items.length === 0)
      throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

async function seedSubjects(qc) {
  const t0 = Date.now();
  const CHUNK = 10_000;
  for (let i = 0; i < SUBJECTS; i += CHUNK) {
    const rows = [];
    for (let j = i; j < Math.min(SUBJECTS, i + CHUNK); j += 1)
      rows.push({ id: `s-${String(j).padStart(7, '0')}`, email: `user${j}@example.com` });
    await qc.importSubjects(rows);
  }
  log(
    `  seeded ${SUBJECTS.toLocaleString('en-US')} subjects in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
}

async function benchEngine(engine) {
  log(`\n== ${engine} ==`);
  const s = await prepare(engine);
  const ours = await start([CLI, 'serve', '--db', s.db, '--port', '0']);
  const c0 = await start([CONTENDERS, 'c0']);
  const c1 = await start([CONTENDERS, 'c1', s.c1Store]);
  const base = BASELINE_CLI
    ? await start([BASELINE_CLI, 'serve', '--db', s.db, '--port', '0'])
    : null;
  const out = { engine, rounds: [] };
  try {
    // Warm each up (prepared statements, JIT) before the timed rounds.
    for (const [p, key] of [[c0], [c1, s.writer], [ours, s.writer], [base, s.writer]])
      if (p) await load({ url: p.url, key, seconds: 1 });
    for (let r = 0; r < ROUNDS; r += 1) {
      const a = await load({ url: c0.url, pid: c0.child.pid });
      const b = await load({ url: c1.url, key: s.writer, pid: c1.child.pid });
      const c = await load({ url: ours.url, key: s.writer, pid: ours.child.pid });
      const d = base ? await load({ url: base.url, key: s.writer, pid: base.child.pid }) : null;
      out.rounds.push({ c0: a, c1: b, ours: c, ...(d ? { base: d } : {}) });
      log(
        `  round ${r + 1}: C0 ${fmt(a.rps)}/s ${us(a)}, C1 ${fmt(b.rps)}/s ${us(b)}, ours ${fmt(c.rps)}/s ${us(c)} (ours/C1 ${(c.rps / b.rps).toFixed(2)})` +
          (d ? `, base ${fmt(d.rps)}/s ${us(d)} (base/C1 ${(d.rps / b.rps).toFixed(2)})` : ''),
      );
    }
    const c1Peak = median(out.rounds.map((x) => x.c1.rps));
    const half = Math.max(1, Math.floor(c1Peak / 2));
    const c1Half = await load({ url: c1.url, key: s.writer, rate: half });
    const oursHalf = await load({ url: ours.url, key: s.writer, rate: half, pid: ours.child.pid });
    out.half = { rate: half, c1: c1Half.p99, ours: oursHalf.p99 };
    const items = Array.from({ length: 100 }, () => ({
      op: 'consume',
      subject: SUBJECT,
      feature: 'stock_reports',
    }));
    const batchOf = (p) =>
      load({
        url: p.url,
        path: '/v1/batch',
        body: JSON.stringify({ items }),
        key: s.writer,
        pid: p.child.pid,
      });
    const batch = await batchOf(ours);
    out.batch = { unitsPerSec: batch.rps * 100, single: median(out.rounds.map((x) => x.ours.rps)) };
    if (base) out.batch.base = (await batchOf(base)).rps * 100;
    out.rss = Math.max(...out.rounds.map((x) => x.ours.rss), oursHalf.rss, batch.rss);

    await seedSubjects(s.qc);
    const first = `/v1/admin/subjects?limit=${PAGE}`;
    const deepAfter = `s-${String((DEPTH_PAGES - 1) * PAGE - 1).padStart(7, '0')}`;
    const deep = `/v1/admin/subjects?limit=${PAGE}&after=${deepAfter}`;
    const pages = { first: [], deep: [] };
    for (let r = 0; r < ROUNDS; r += 1) {
      pages.first.push(await pageLatency(ours.url + first, s.admin));
      pages.deep.push(await pageLatency(ours.url + deep, s.admin));
    }
    out.pages = { first: median(pages.first), deep: median(pages.deep), deepAfter };
  } finally {
    for (const p of [ours, c0, c1, base]) if (p) await stop(p);
    await s.qc.close();
    if (engine === 'postgres') await dropPostgresSchema(s.db);
  }
  return out;
}

function report(results) {
  const lines = [];
  lines.push(`machine: ${machine()}`);
  lines.push(
    `autocannon: ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${SECONDS} s per contender per round, ${ROUNDS} rounds`,
  );
  for (const r of results) {
    const m = (k) => median(r.rounds.map((x) => x[k].rps));
    const p = (k) => median(r.rounds.map((x) => x[k].p99));
    lines.push('');
    lines.push(`${r.engine}:`);
    lines.push(`| figure | value | target |`);
    lines.push(`|---|---|---|`);
    lines.push(`| C0 req/s (median) | ${fmt(m('c0'))} (p99 ${p('c0')} ms) | |`);
    lines.push(`| C1 req/s (median) | ${fmt(m('c1'))} (p99 ${p('c1')} ms) | |`);
    lines.push(`| ours req/s (median) | ${fmt(m('ours'))} (p99 ${p('ours')} ms) | |`);
    const cpu = (k) => median(r.rounds.map((x) => x[k].cpuUs));
    lines.push(`| ours / C1 | ${(m('ours') / m('c1')).toFixed(2)} | ≥ 0.8 |`);
    lines.push(
      `| server CPU per request (median): C0, C1, ours | ${cpu('c0').toFixed(0)}, ${cpu('c1').toFixed(0)}, ${cpu('ours').toFixed(0)} µs | |`,
    );
    lines.push(
      `| C1's CPU per request / ours (the req/s ratio when both are CPU-bound) | ${(cpu('c1') / cpu('ours')).toFixed(2)} | |`,
    );
    lines.push(`| ours / C0 | ${(m('ours') / m('c0')).toFixed(2)} | reported |`);
    if (r.rounds[0].base)
      lines.push(
        `| base (BENCH_BASELINE_CLI) req/s (median), base / C1; CPU per request, C1's / base's | ${fmt(m('base'))}, ${(m('base') / m('c1')).toFixed(2)}; ${cpu('base').toFixed(0)} µs, ${(cpu('c1') / cpu('base')).toFixed(2)} | |`,
      );
    lines.push(
      `| p99 at ${fmt(r.half.rate)} req/s (half C1's peak): ours / C1 | ${r.half.ours} ms / ${r.half.c1} ms = ${(r.half.ours / Math.max(r.half.c1, 1)).toFixed(2)} | ≤ 1.5 |`,
    );
    lines.push(
      `| batch of 100: units/s against single consumes | ${fmt(r.batch.unitsPerSec)} / ${fmt(r.batch.single)} = ${(r.batch.unitsPerSec / r.batch.single).toFixed(1)}× | ≥ 10× |`,
    );
    // Our single consumes are themselves grouped into shared statements and commits (group commit), which
    // is what a batch saves; C1 pays one statement and commit per request, as a client without either would.
    lines.push(
      `| batch of 100: units/s against C1's single consumes (one statement and commit each) | ${fmt(r.batch.unitsPerSec)} / ${fmt(m('c1'))} = ${(r.batch.unitsPerSec / m('c1')).toFixed(1)}× | reported |`,
    );
    if (r.batch.base !== undefined)
      lines.push(
        `| batch of 100: units/s, base (BENCH_BASELINE_CLI) and ours | ${fmt(r.batch.base)}, ${fmt(r.batch.unitsPerSec)} | |`,
      );
    lines.push(`| serve RSS under load (peak) | ${r.rss.toFixed(0)} MB | < 200 MB |`);
    lines.push(
      `| subjects page at depth ${DEPTH_PAGES.toLocaleString('en-US')} (after ${r.pages.deepAfter}) / page 1, median latency, ${SUBJECTS.toLocaleString('en-US')} subjects | ${r.pages.deep.toFixed(2)} ms / ${r.pages.first.toFixed(2)} ms = ${(r.pages.deep / Math.max(r.pages.first, 0.01)).toFixed(2)} | ≤ 2 |`,
    );
  }
  return lines.join('\n');
}

try {
  const results = [];
  for (const engine of ENGINES) results.push(await benchEngine(engine));
  console.log(report(results));
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
