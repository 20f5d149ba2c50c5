import { describe, expect, it } from 'vitest';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { renderChartPng, renderChartSvg } from '../../src/report/chart.js';
import { renderReportCsv, renderReportHtml, renderReportText } from '../../src/report/render.js';
import { buildUsageReport } from '../../src/report/usage-report.js';
import { seededClock, tempDir } from './helpers.js';

describe('usage report', () => {
  it('per-plan utilisation, top consumers, near-limit subjects, usage per day and trend for a closed period', async () => {
    const qc = await seededClock(tempDir());
    qc.setNow('2026-11-01T00:05:00Z');
    await runScheduledReset(qc, { env: {} });
    // November so far: alice uses 9 by the 3rd.
    for (let i = 0; i < 9; i++)
      await qc.consume('alice', 'stock_reports', 1, {
        now: Date.parse(`2026-11-0${(i % 3) + 1}T08:00:00Z`),
      });
    const r = await buildUsageReport(qc, {
      period: '2026-10',
      nowMs: Date.parse('2026-11-03T12:00:00Z'),
    });

    expect(r.title).toBe('Quota usage report: 2026-10');
    expect(r.scope).toEqual({
      kind: 'period',
      label: '2026-10',
      key: '2026-10',
      start: '2026-10-01T00:00:00.000Z',
      end: '2026-11-01T00:00:00.000Z',
      complete: true,
    });
    expect(r.totals).toEqual({ subjects: 5, active: 4, used: 94, atLimit: 1, denied: 0 });
    expect(r.plans).toEqual([
      {
        plan: 'free',
        feature: 'stock_reports',
        limit: 10,
        subjects: 2,
        active: 1,
        used: 9,
        meanPct: 45,
        medianPct: 45,
        atLimit: 0,
        unlimited: 0,
      },
      {
        plan: 'pro',
        feature: 'stock_reports',
        limit: 45,
        subjects: 2,
        active: 2,
        used: 55,
        meanPct: 61.1,
        medianPct: 61.1,
        atLimit: 1,
        unlimited: 0,
      },
      {
        plan: 'enterprise',
        feature: 'stock_reports',
        limit: null,
        subjects: 1,
        active: 1,
        used: 30,
        meanPct: null,
        medianPct: null,
        atLimit: 0,
        unlimited: 1,
      },
    ]);
    expect(r.top.map((t) => [t.subject, t.used, t.pct])).toEqual([
      ['alice', 45, 100],
      ['erin', 30, null],
      ['bob', 10, 22.2],
      ['carol', 9, 90],
    ]);
    expect(r.nearLimit.map((t) => [t.subject, t.pct])).toEqual([
      ['alice', 100],
      ['carol', 90],
    ]);
    expect(r.daily).toHaveLength(31);
    expect(r.daily[0]).toEqual({ day: '2026-10-01', used: { stock_reports: 6 }, denied: 0 });
    expect(r.daily.reduce((s, d) => s + d.used.stock_reports!, 0)).toBe(94);
    expect(r.trend.used).toEqual({ current: 94, previous: 0, changePct: null });

    // The running period: November to date, compared with October at the same point (its first 2.5 days).
    const nov = await buildUsageReport(qc, { nowMs: Date.parse('2026-11-03T12:00:00Z') });
    expect(nov.scope).toMatchObject({
      key: '2026-11',
      complete: false,
      label: '2026-11 (to date)',
    });
    expect(nov.previous).toMatchObject({
      label: '2026-10',
      comparedUntil: '2026-10-03T12:00:00.000Z',
    });
    expect(nov.totals).toMatchObject({ used: 9, active: 1, subjects: 5 });
    expect(nov.trend.used).toEqual({ current: 9, previous: 17, changePct: -47.1 });
    expect(nov.daily.map((d) => d.used.stock_reports)).toEqual([3, 3, 3]);

    // A window of whole days before today.
    const week = await buildUsageReport(qc, {
      last: '7d',
      nowMs: Date.parse('2026-10-29T12:00:00Z'),
    });
    expect(week.scope).toMatchObject({
      kind: 'window',
      label: 'last 7 days (2026-10-22 to 2026-10-28)',
      start: '2026-10-22T00:00:00.000Z',
      end: '2026-10-29T00:00:00.000Z',
    });
    expect(week.totals).toMatchObject({ used: 14, active: 2 });
    expect(week.trend.used).toEqual({ current: 14, previous: 17, changePct: -17.6 }); // alice used twice a day on the 15th to 17th

    const text = renderReportText(r);
    expect(text).toContain('Utilisation by plan');
    expect(text).toMatch(/pro\s+2\s+2\s+55\s+45\s+61\.1%\s+61\.1%\s+1/);
    expect(text).toMatch(
      /Near their limit \(≥ 80%\)\nsubject\s+plan\s+used\s+limit\s+% of limit\nalice/,
    );
    const csv = renderReportCsv(r).split('\n');
    expect(csv[0]).toBe(
      'section,plan,feature,subject,day,subjects,active,used,limit,pct,mean_pct,median_pct,at_limit,refused',
    );
    expect(csv).toContain('plan,pro,stock_reports,,,2,2,55,45,,61.1,61.1,1,');
    expect(csv).toContain('top,enterprise,stock_reports,erin,,,,30,unlimited,,,,,');
    expect(csv).toContain('day,,stock_reports,,2026-10-01,,,6,,,,,,0');

    const svg = await renderChartSvg(r);
    expect(svg).toMatch(/^<svg[^>]+width="760"[^>]+height="520"/);
    expect(svg).toContain('Utilisation by plan');
    const png = await renderChartPng(r);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1520, 1040]);
    const html = renderReportHtml(r, {
      src: `data:image/png;base64,${png.toString('base64')}`,
      width: 760,
      height: 520,
    });
    expect(html).toContain('<img src="data:image/png;base64,iVBORw0KGgo');
    await qc.close();
  });

  it('refuses a bad --period or --last with the flag named', async () => {
    const qc = await seededClock(tempDir());
    await expect(buildUsageReport(qc, { period: '2026-13' })).rejects.toThrow(
      '--period: "2026-13" is not a valid month period key',
    );
    await expect(buildUsageReport(qc, { period: 'oct' })).rejects.toThrow(
      '--period: "oct" is not a month period key (for example 2026-10)',
    );
    await expect(buildUsageReport(qc, { period: '2027-01' })).rejects.toThrow(
      '--period: 2027-01 has not started yet',
    );
    await expect(buildUsageReport(qc, { last: '7' })).rejects.toThrow(
      '--last: expected a number of days or weeks such as 7d or 2w, got "7"',
    );
    await expect(buildUsageReport(qc, { last: '7d', period: '2026-10' })).rejects.toThrow(
      '--period and --last: use one or the other',
    );
    await qc.close();
  });
});
