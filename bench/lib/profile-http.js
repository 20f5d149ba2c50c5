// Where a contender spends its CPU under load: starts `quotaclock serve` (or C1)
// under `node --cpu-prof` on a fresh SQLite store, drives POST /v1/consume with
// autocannon, stops it, and prints self time by function and by file/package.
// Usage (after npm run build):
//   node bench/lib/profile-http.js [ours|c1] [seconds=8] [top=30]
// env: PROFILE_LOG_LEVEL (serve's QUOTACLOCK_LOG_LEVEL, default warn as in bench:http);
//      PROFILE_CLI (another build's dist/cli/main.js to profile as "ours", e.g. the commit before);
//      PROFILE_BATCH (1: POST /v1/batch of 100 consumes instead of single consumes; ours only);
//      PROFILE_PG (a PostgreSQL URL: profile on a fresh schema there instead of SQLite);
//      PROFILE_DIR (where the database goes; /dev/shm takes fsync out of the picture, so the
//      profile shows the CPU each request costs rather than the disk's mood).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createQuotaClock } from '../../dist/index.js';
import { dropPostgresSchema } from '../../dist/store/postgres/index.js';

const [who = 'ours', secondsArg = '8', topArg = '30'] = process.argv.slice(2);
const CLI = process.env.PROFILE_CLI ?? new URL('../../dist/cli/main.js', import.meta.url).pathname;
const CONTENDERS = new URL('./http-contenders.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(process.env.PROFILE_DIR ?? tmpdir(), 'qc-profile-http-'));

/** Inclusive time in ms per key: each sample counts once for every distinct key on its stack. */
export function totalTimes(profile, keyOf) {
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    all += dt;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at).callFrame);
      if (key && !seen.has(key)) {
        seen.add(key);
        totals.set(key, (totals.get(key) ?? 0) + dt);
      }
    }
  });
  return { all, rows: [...totals.entries()].sort((a, b) => b[1] - a[1]) };
}

/** Self time in ms per key (a function, or a file), from a .cpuprofile. */
export function selfTimes(profile, keyOf) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const key = keyOf(byId.get(id).callFrame);
    totals.set(key, (totals.get(key) ?? 0) + dt);
    all += dt;
  });
  return { all, rows: [...totals.entries()].sort((a, b) => b[1] - a[1]) };
}

const short = (url) => {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 13);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
};
const pkgOf = (url) => {
  const s = short(url);
  if (s.startsWith('dist/')) return s;
  if (s.startsWith('node:')) return s;
  if (s === '(native)') return s;
  const parts = s.split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
};

function startProcess(args, env) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      err += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(err);
      if (m) {
        child.stderr.off('data', onData);
        child.stderr.resume();
        resolve({ url: m[1], child });
      }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

const file = join(tmp, 'p.db');
const pgUrl = process.env.PROFILE_PG
  ? (() => {
      const u = new URL(process.env.PROFILE_PG);
      u.searchParams.set('schema', `qc_profile_http_${process.pid}`);
      return u.toString();
    })()
  : null;
const db = pgUrl ?? `sqlite:${file}`;
if (pgUrl) await dropPostgresSchema(pgUrl);
const qc = createQuotaClock({ config: { store: db } });
await qc.init();
await qc.addSubject({ id: 'bench-user', overrides: { stock_reports: 1_000_000_000_000 } });
const key = (await qc.keys.create({ name: 'bench', scopes: ['quota:write'] })).key;
await qc.close();

const profDir = join(tmp, 'prof');
const args =
  who === 'c1'
    ? [`--cpu-prof`, `--cpu-prof-dir=${profDir}`, CONTENDERS, 'c1', pgUrl ?? file]
    : [`--cpu-prof`, `--cpu-prof-dir=${profDir}`, CLI, 'serve', '--db', db, '--port', '0'];
const one = { subject: 'bench-user', feature: 'stock_reports', amount: 1 };
const BATCH = process.env.PROFILE_BATCH === '1';
const p = await startProcess(args, {
  QUOTACLOCK_LOG_LEVEL: process.env.PROFILE_LOG_LEVEL ?? 'warn',
});
try {
  const r = await autocannon({
    url: `${p.url}${BATCH ? '/v1/batch' : '/v1/consume'}`,
    method: 'POST',
    body: JSON.stringify(
      BATCH ? { items: Array.from({ length: 100 }, () => ({ op: 'consume', ...one })) } : one,
    ),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    connections: 16,
    duration: Number(secondsArg),
  });
  console.log(`${who}: ${Math.round(r.requests.average)} req/s, non-2xx ${r.non2xx}`);
  const exited = new Promise((res) => p.child.once('exit', res));
  p.child.kill('SIGTERM');
  await exited;
  const prof = JSON.parse(
    readFileSync(
      join(
        profDir,
        readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')),
      ),
      'utf8',
    ),
  );
  const top = Number(topArg);
  const fn = selfTimes(
    prof,
    (cf) => `${cf.functionName || '(anonymous)'} ${short(cf.url)}:${cf.lineNumber + 1}`,
  );
  const pct = (ms) => ((100 * ms) / fn.all).toFixed(1).padStart(5);
  console.log(`\nself time by function (${Math.round(fn.all)} ms sampled):`);
  for (const [k, ms] of fn.rows.slice(0, top)) console.log(`${pct(ms)}%  ${k}`);
  const incl = totalTimes(prof, (cf) =>
    /dist\/|http-contenders|pino|fastify\/lib\/(hooks|handle|reply|route|content)/.test(cf.url)
      ? `${cf.functionName || '(anonymous)'} ${short(cf.url)}:${cf.lineNumber + 1}`
      : null,
  );
  console.log(`\ninclusive time, our code and fastify/pino:`);
  for (const [k, ms] of incl.rows.slice(0, top)) console.log(`${pct(ms)}%  ${k}`);
  // PROFILE_CALLERS=writeString: who calls a (native) function, by the JS frames above it.
  if (process.env.PROFILE_CALLERS) {
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const callers = new Map();
    prof.samples.forEach((id, i) => {
      const node = byId.get(id);
      if (node.callFrame.functionName !== process.env.PROFILE_CALLERS) return;
      const chain = [];
      for (let at = parent.get(id); at !== undefined && chain.length < 4; at = parent.get(at)) {
        const cf = byId.get(at).callFrame;
        chain.push(`${cf.functionName || '(anonymous)'} ${short(cf.url)}:${cf.lineNumber + 1}`);
      }
      const k = chain.join(' < ');
      callers.set(k, (callers.get(k) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
    });
    console.log(`\ncallers of ${process.env.PROFILE_CALLERS}:`);
    for (const [k, ms] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 8))
      console.log(`${pct(ms)}%  ${k}`);
  }
  const pk = selfTimes(prof, (cf) => pkgOf(cf.url));
  console.log(`\nself time by file (ours) or package:`);
  for (const [k, ms] of pk.rows.slice(0, top)) console.log(`${pct(ms)}%  ${k}`);
} finally {
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
  if (pgUrl) await dropPostgresSchema(pgUrl);
}
