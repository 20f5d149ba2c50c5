import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { CHART_SIZE, renderChartPng, renderChartSvg } from '../../src/report/chart.js';
import { renderReportHtml } from '../../src/report/render.js';
import { buildUsageReport } from '../../src/report/usage-report.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === 'true') {
    throw new Error(
      `${CHROMIUM} is missing and CI=true: install Debian's chromium (apt-get install -y chromium)`,
    );
  }
  console.warn(
    `skipping the headless Chromium report rendering: ${CHROMIUM} not found (apt-get install -y chromium)`,
  );
}

/** Two months of plausible traffic for ~120 subjects across the four reference plans, growing into October. */
async function seedMonths(dir: string) {
  let now = Date.parse('2026-09-01T00:30:00Z');
  const qc = createQuotaClock({
    config: { store: `sqlite:${join(dir, 'q.db')}?synchronous=normal` },
    clock: () => now,
  });
  await qc.init();
  const plans = ['free', 'free', 'free', 'pro', 'pro', 'pro_plus', 'enterprise'];
  const subjects = Array.from({ length: 126 }, (_, i) => ({
    id: `user${String(i + 1).padStart(3, '0')}`,
    plan: plans[i % plans.length]!,
  }));
  await qc.importSubjects(subjects);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const appetite = { free: 0.3, pro: 1.1, pro_plus: 2.2, enterprise: 3 } as Record<string, number>;
  for (const [month, days, growth] of [
    [9, 30, 0.8],
    [10, 31, 1],
  ] as const) {
    if (month === 10) {
      now = Date.parse('2026-10-01T00:05:00Z');
      await runScheduledReset(qc, { env: {} });
    }
    for (let day = 1; day <= days; day++) {
      const weekday = new Date(Date.UTC(2026, month - 1, day)).getUTCDay();
      const busy = (weekday === 0 || weekday === 6 ? 0.35 : 1) * growth;
      for (const s of subjects) {
        const n = Number(s.id.slice(4));
        const want = Math.floor(rand() * appetite[s.plan]! * (0.4 + (n % 10) / 6) * busy * 2);
        now = Date.parse(
          `2026-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${String(8 + (n % 12)).padStart(2, '0')}:00:00Z`,
        );
        for (let k = 0; k < want; k++) await qc.consume(s.id, 'stock_reports', 1);
      }
    }
  }
  now = Date.parse('2026-11-01T00:05:00Z');
  await runScheduledReset(qc, { env: {} });
  const report = await buildUsageReport(qc, { period: '2026-10' });
  await qc.close();
  return report;
}

describe.skipIf(!available)('the HTML report in headless Chromium', () => {
  it('renders with its chart image loaded, to a PNG (and the example in docs/)', async () => {
    const dir = tempDir('qc-chromium-');
    const report = await seedMonths(dir);
    expect(report.totals.subjects).toBe(126);
    const png = await renderChartPng(report);
    const html = renderReportHtml(report, {
      src: `data:image/png;base64,${png.toString('base64')}`,
      ...CHART_SIZE,
    });
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    writeFileSync(join(dir, 'chart.svg'), await renderChartSvg(report));

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage({
        viewport: { width: 840, height: 900 },
        deviceScaleFactor: 1,
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const img = await page.evaluate(() => {
        const el = document.querySelector('img')!;
        return {
          complete: el.complete,
          naturalWidth: el.naturalWidth,
          naturalHeight: el.naturalHeight,
          shownWidth: el.getBoundingClientRect().width,
        };
      });
      expect(img).toMatchObject({ complete: true, naturalWidth: 1520, naturalHeight: 1040 });
      expect(img.shownWidth).toBeGreaterThan(700);
      expect(await page.textContent('body')).toContain('Utilisation by plan');
      const shot = await page.screenshot({ fullPage: true, type: 'png' });
      expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(shot.readUInt32BE(16)).toBe(840);
      expect(shot.length).toBeGreaterThan(50_000); // a rendered page with a chart, not a blank one

      // The chart alone, as SVG straight from ECharts, drawn by the browser too.
      await page.goto(pathToFileURL(join(dir, 'chart.svg')).href);
      const box = await page.evaluate(() => {
        const r = document.querySelector('svg')!.getBoundingClientRect();
        return [r.width, r.height, document.querySelectorAll('svg path').length > 20];
      });
      expect(box).toEqual([760, 520, true]);

      if (process.env.QUOTACLOCK_WRITE_DOCS === '1') {
        const docs = resolve(import.meta.dirname, '../../docs');
        mkdirSync(docs, { recursive: true });
        writeFileSync(join(docs, 'report-example.png'), shot);
      }
    } finally {
      await browser.close();
    }
  });
});
