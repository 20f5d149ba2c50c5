// Runs one real reset through the library on the given SQLite file (or
// PostgreSQL URL) and
// reports its wall time and the process's peak RSS as one JSON line.
import { createQuotaClock, resetAllUserQuotas } from '../dist/index.js';

const [path, nowIso] = process.argv.slice(2);
const now = Date.parse(nowIso);
const store = /^postgres(ql)?:\/\//.test(path) ? path : `sqlite:${path}`;
const qc = createQuotaClock({ config: { store }, clock: () => now });
const t0 = process.hrtime.bigint();
const report = await resetAllUserQuotas({ quotaclock: qc });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
await qc.close();
const p = report.periods[0];
process.stdout.write(
  `${JSON.stringify({ ms, subjects: p?.subjects ?? 0, used: p?.used ?? 0, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
