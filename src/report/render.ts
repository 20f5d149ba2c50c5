import { escapeHtml } from '../notify/render.js';
import type { Change, SubjectLine, UsageReport } from './usage-report.js';

const num = (n: number) => n.toLocaleString('en-US');
const pct = (p: number | null) => (p === null ? 'n/a' : `${p.toFixed(1)}%`);
const lim = (l: number | null | 'mixed') =>
  l === null ? 'unlimited' : l === 'mixed' ? 'mixed' : num(l);

export function describeChange(c: Change): string {
  if (c.changePct === null)
    return c.current === c.previous ? 'no change' : `${num(c.previous)} → ${num(c.current)}`;
  const sign = c.changePct > 0 ? '+' : '';
  return `${sign}${c.changePct.toFixed(1)}% (${num(c.previous)} → ${num(c.current)})`;
}

function table(rows: ReadonlyArray<ReadonlyArray<string>>, rightAlignFrom = 1): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function subjectRows(lines: readonly SubjectLine[], features: readonly string[]): string[][] {
  const multi = features.length > 1;
  return [
    ['subject', 'plan', ...(multi ? ['feature'] : []), 'used', 'limit', '% of limit'],
    ...lines.map((l) => [
      l.subject,
      l.plan,
      ...(multi ? [l.feature] : []),
      num(l.used),
      lim(l.limit),
      pct(l.pct),
    ]),
  ];
}

/** Short summary lines, shared by the text report, Slack and the email intro. */
export function summaryLines(r: UsageReport): string[] {
  return [
    `${num(r.totals.subjects)} subject(s), ${num(r.totals.active)} active; ${num(r.totals.used)} unit(s) used; ${num(r.totals.atLimit)} at their limit; ${num(r.totals.denied)} request(s) refused.`,
    `Trend against ${r.previous.label}: used ${describeChange(r.trend.used)}, active subjects ${describeChange(r.trend.active)}, at limit ${describeChange(r.trend.atLimit)}.`,
  ];
}

export function renderReportText(r: UsageReport): string {
  const multi = r.features.length > 1;
  const out = [
    r.title,
    `${r.scope.start} to ${r.scope.end}${r.scope.complete ? '' : ' (in progress)'}, days in ${r.timeZone}; generated ${r.generatedAt} on ${r.host}`,
    '',
    ...summaryLines(r),
    '',
    'Utilisation by plan',
    table(
      [
        [
          'plan',
          ...(multi ? ['feature'] : []),
          'subjects',
          'active',
          'used',
          'limit',
          'mean %',
          'median %',
          'at limit',
        ],
        ...r.plans.map((p) => [
          p.plan,
          ...(multi ? [p.feature] : []),
          num(p.subjects),
          num(p.active),
          num(p.used),
          lim(p.limit),
          pct(p.meanPct),
          pct(p.medianPct),
          num(p.atLimit),
        ]),
      ],
      multi ? 2 : 1,
    ),
    '',
    `Near their limit (≥ ${r.nearThreshold}%)`,
    r.nearLimit.length ? table(subjectRows(r.nearLimit, r.features), multi ? 3 : 2) : '  none',
    '',
    'Top consumers',
    r.top.length ? table(subjectRows(r.top, r.features), multi ? 3 : 2) : '  none',
    '',
    'Usage per day',
    table([
      ['day', ...r.features, 'refused'],
      ...r.daily.map((d) => [d.day, ...r.features.map((f) => num(d.used[f] ?? 0)), num(d.denied)]),
    ]),
  ];
  return out.join('\n');
}

const csvCell = (v: string | number | null | undefined) => {
  const s = v === null || v === undefined ? '' : String(v);
  // A leading = + - @ would run as a formula in a spreadsheet.
  const safe = /^[=+\-@]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** One long table with a `section` column, so the whole report loads into one sheet. */
export function renderReportCsv(r: UsageReport): string {
  const header = [
    'section',
    'plan',
    'feature',
    'subject',
    'day',
    'subjects',
    'active',
    'used',
    'limit',
    'pct',
    'mean_pct',
    'median_pct',
    'at_limit',
    'refused',
  ];
  const rows: Array<Array<string | number | null>> = [header];
  for (const p of r.plans)
    rows.push([
      'plan',
      p.plan,
      p.feature,
      '',
      '',
      p.subjects,
      p.active,
      p.used,
      p.limit === null ? 'unlimited' : p.limit,
      '',
      p.meanPct,
      p.medianPct,
      p.atLimit,
      '',
    ]);
  for (const l of r.top)
    rows.push([
      'top',
      l.plan,
      l.feature,
      l.subject,
      '',
      '',
      '',
      l.used,
      l.limit === null ? 'unlimited' : l.limit,
      l.pct,
      '',
      '',
      '',
      '',
    ]);
  for (const l of r.nearLimit)
    rows.push([
      'near_limit',
      l.plan,
      l.feature,
      l.subject,
      '',
      '',
      '',
      l.used,
      l.limit === null ? 'unlimited' : l.limit,
      l.pct,
      '',
      '',
      '',
      '',
    ]);
  for (const d of r.daily)
    for (const f of r.features)
      rows.push(['day', '', f, '', d.day, '', '', d.used[f] ?? 0, '', '', '', '', '', d.denied]);
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

const TD = 'padding:6px 10px;border-bottom:1px solid #e5e5e5;font-size:13px';
const TH =
  'padding:6px 10px;border-bottom:2px solid #ccc;font-size:12px;text-align:left;color:#555';

function htmlTable(
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string>>,
  numericFrom: number,
): string {
  const th = head
    .map(
      (h, i) =>
        `<th style="${TH}${i >= numericFrom ? ';text-align:right' : ''}">${escapeHtml(h)}</th>`,
    )
    .join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td style="${TD}${i >= numericFrom ? ';text-align:right;font-variant-numeric:tabular-nums' : ''}">${escapeHtml(c)}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%;margin:0 0 20px 0">${`<tr>${th}</tr>`}${body}</table>`;
}

export interface HtmlImage {
  /** data:image/png;base64,… for a standalone file, cid:… for email. */
  readonly src: string;
  readonly width: number;
  readonly height: number;
}

/**
 * An HTML report that mail clients render: tables, inline styles, and the
 * chart as a PNG (an inline cid attachment in email, a data URI in a file).
 */
export function renderReportHtml(r: UsageReport, image: HtmlImage | null): string {
  const multi = r.features.length > 1;
  const h2 = (t: string) =>
    `<h2 style="font-size:16px;margin:24px 0 8px 0;color:#222">${escapeHtml(t)}</h2>`;
  const subjectTable = (lines: readonly SubjectLine[]) =>
    lines.length
      ? htmlTable(
          ['subject', 'plan', ...(multi ? ['feature'] : []), 'used', 'limit', '% of limit'],
          lines.map((l) => [
            l.subject,
            l.plan,
            ...(multi ? [l.feature] : []),
            num(l.used),
            lim(l.limit),
            pct(l.pct),
          ]),
          multi ? 3 : 2,
        )
      : '<p style="color:#666;font-size:13px">None.</p>';
  const card = (label: string, value: string, sub: string) =>
    `<td style="padding:10px 12px;border:1px solid #e5e5e5;vertical-align:top;width:25%"><div style="font-size:12px;color:#666">${escapeHtml(label)}</div><div style="font-size:22px;font-weight:bold;margin:2px 0">${escapeHtml(value)}</div><div style="font-size:11px;color:#666">${escapeHtml(sub)}</div></td>`;
  const trend = (c: Change) =>
    c.changePct === null
      ? `was ${num(c.previous)}`
      : `${c.changePct > 0 ? '+' : ''}${c.changePct.toFixed(1)}% vs ${num(c.previous)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(r.title)}</title></head>
<body style="margin:0;padding:16px;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#222">
<table role="presentation" cellpadding="0" cellspacing="0" style="max-width:800px;width:100%;margin:0 auto;background:#ffffff;border:1px solid #ddd">
<tr><td style="background:#2F6FB5;color:#fff;padding:16px 20px"><div style="font-size:20px;font-weight:bold">${escapeHtml(r.title)}</div>
<div style="font-size:12px;opacity:.9;margin-top:4px">${escapeHtml(`${r.scope.start} to ${r.scope.end}${r.scope.complete ? '' : ' (in progress)'} · days in ${r.timeZone} · compared with ${r.previous.label}`)}</div></td></tr>
<tr><td style="padding:16px 20px">
<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%"><tr>
${card('Units used', num(r.totals.used), trend(r.trend.used))}
${card('Active subjects', num(r.totals.active), `of ${num(r.totals.subjects)} · ${trend(r.trend.active)}`)}
${card('At their limit', num(r.totals.atLimit), trend(r.trend.atLimit))}
${card('Requests refused', num(r.totals.denied), trend(r.trend.denied))}
</tr></table>
${image ? `<div style="margin:20px 0 4px 0"><img src="${escapeHtml(image.src)}" width="${image.width}" height="${image.height}" alt="Utilisation by plan and units used per day" style="display:block;width:100%;max-width:${image.width}px;height:auto;border:0"></div>` : ''}
${h2('Utilisation by plan')}
${htmlTable(
  [
    'plan',
    ...(multi ? ['feature'] : []),
    'subjects',
    'active',
    'used',
    'limit',
    'mean %',
    'median %',
    'at limit',
  ],
  r.plans.map((p) => [
    p.plan,
    ...(multi ? [p.feature] : []),
    num(p.subjects),
    num(p.active),
    num(p.used),
    lim(p.limit),
    pct(p.meanPct),
    pct(p.medianPct),
    num(p.atLimit),
  ]),
  multi ? 2 : 1,
)}
${h2(`Near their limit (≥ ${r.nearThreshold}%)`)}
${subjectTable(r.nearLimit)}
${h2('Top consumers')}
${subjectTable(r.top)}
</td></tr>
<tr><td style="padding:10px 20px;color:#888;font-size:11px;border-top:1px solid #eee">quotaclock · generated ${escapeHtml(r.generatedAt)} on ${escapeHtml(r.host)}</td></tr>
</table></body></html>
`;
}
