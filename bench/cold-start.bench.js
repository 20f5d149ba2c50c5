// npm run bench:cold-start — wall time of a cold `quotaclock status <id>`
// (a new process each time, as a cron job or a shell user runs it), against
// the floor of starting Node itself and of opening the same SQLite file with
// better-sqlite3, measured in the same run. Target: at most 2.5× `node -e 0` (and under 300 ms on an idle machine).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine } from './lib/machine.js';

const CLI = join(import.meta.dirname, '../dist/cli/main.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const dir = mkdtempSync(join(tmpdir(), 'qc-bench-cold-'));
const db = join(dir, 'quotaclock.db');

function time(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

time([CLI, '--db', db, 'init']);
time([CLI, '--db', db, 'consume', 'alice', 'stock_reports']);
const cases = {
  'node -e 0 (Node start-up floor)': ['-e', '0'],
  'open the SQLite file and read one row': [
    '-e',
    `const D=require(${JSON.stringify(join(import.meta.dirname, '../node_modules/better-sqlite3'))});new D(${JSON.stringify(db)}).prepare('select * from subjects limit 1').get()`,
  ],
  'quotaclock status alice': [CLI, '--db', db, 'status', 'alice'],
};
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
// Interleave the cases so machine noise hits them alike.
for (let i = 0; i < RUNS; i += 1)
  for (const [k, args] of Object.entries(cases)) samples[k].push(time(args));
console.log(`machine: ${machine()}`);
const nodeFloor = median(samples['node -e 0 (Node start-up floor)']);
for (const [k, xs] of Object.entries(samples)) {
  const m = median(xs);
  console.log(
    `${k.padEnd(40)} median ${m.toFixed(0).padStart(5)} ms   ×${(m / nodeFloor).toFixed(2)} of node start-up`,
  );
}
const ours = median(samples['quotaclock status alice']);
const ratio = ours / nodeFloor;
console.log(
  `cold status: ${ours.toFixed(0)} ms, ${ratio.toFixed(2)}× node start-up (target ≤ 2.5×): ${ratio <= 2.5 ? 'met' : 'NOT met'}`,
);
rmSync(dir, { recursive: true, force: true });
