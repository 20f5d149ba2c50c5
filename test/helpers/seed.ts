import { createQuotaClock } from '../../src/quotaclock.js';

/**
 * Seeds subjects with usage through the real library (synchronous=NORMAL only
 * to keep setup quick; the commands under test use the default).
 */
export async function seedSubjects(
  dbPath: string,
  count: number,
  opts: { at: string; usedEvery?: number; batchSize?: number } = { at: '2026-10-10T00:00:00Z' },
): Promise<{ used: number }> {
  const at = Date.parse(opts.at);
  const qc = createQuotaClock({
    config: { store: `sqlite:${dbPath}?synchronous=normal` },
    clock: () => at,
  });
  await qc.init();
  const plans = ['free', 'pro', 'pro_plus', 'enterprise'];
  const subjects = Array.from({ length: count }, (_, i) => ({
    id: `s${String(i).padStart(7, '0')}`,
    plan: plans[i % plans.length]!,
  }));
  for (let i = 0; i < subjects.length; i += 10_000)
    await qc.importSubjects(subjects.slice(i, i + 10_000));
  let used = 0;
  const every = opts.usedEvery ?? 1;
  for (let i = 0; i < count; i += every) {
    const n = (i % 7) + 1;
    const r = await qc.consume(subjects[i]!.id, 'stock_reports', n);
    if (r.granted) used += n;
  }
  await qc.close();
  return { used };
}
