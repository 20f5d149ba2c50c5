// One OS process with its own PostgreSQL pool, consuming against shared subjects.
// Started by test/postgres/load.test.ts. env: QC_DIST (file URL of dist/index.js),
// QC_CONFIG (JSON config incl. store URL), QC_SUBJECTS (comma-separated), QC_ROUNDS,
// QC_NOW (ISO instant for every consume), QC_WORKER. Prints one JSON line:
// { results: [{ subject, granted, used, limit }], errors: [message] }.
const { createQuotaClock } = await import(process.env.QC_DIST);
const qc = createQuotaClock({ config: JSON.parse(process.env.QC_CONFIG) });
const subjects = process.env.QC_SUBJECTS.split(',');
const rounds = Number(process.env.QC_ROUNDS);
const now = Date.parse(process.env.QC_NOW);
const worker = Number(process.env.QC_WORKER);
const results = [];
const errors = [];
for (let i = 0; i < rounds; i += 1) {
  const subject = subjects[(i * 7 + worker * 3) % subjects.length];
  try {
    const r = await qc.consume(subject, 'stock_reports', 1, { now, key: `w${worker}-${i}` });
    results.push({ subject, granted: r.granted, used: r.used, limit: r.limit });
  } catch (e) {
    if (e && e.code === 'QUOTA_EXCEEDED') results.push({ subject, granted: false });
    else errors.push(String(e && e.message));
  }
}
await qc.close();
process.stdout.write(JSON.stringify({ results, errors }) + '\n');
