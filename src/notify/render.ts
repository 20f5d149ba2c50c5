import type { NotifyEvent } from './types.js';

const COLOURS = { ok: '#2EB67D', warning: '#F2A33A', error: '#F2A33A' } as const;
const BANNER = { ok: '#1B7F4D', warning: '#B26A00', error: '#B3261E' } as const;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The plain-text body: email text part, heartbeat ping body, `notify test` output. */
export function renderText(e: NotifyEvent): string {
  const width = Math.max(0, ...e.fields.map((f) => f.label.length));
  return [
    e.title,
    '',
    ...e.lines,
    '',
    ...e.fields.map((f) => `${`${f.label}:`.padEnd(width + 1)} ${f.value}`),
    '',
    `event ${e.type} at ${e.at}`,
  ].join('\n');
}

/** A plain HTML body that mail clients render the same: tables and inline styles only. */
export function renderHtml(e: NotifyEvent): string {
  const rows = e.fields
    .map(
      (f) =>
        `<tr><td style="padding:4px 12px 4px 0;color:#555;white-space:nowrap;vertical-align:top">${escapeHtml(f.label)}</td>` +
        `<td style="padding:4px 0;font-family:Menlo,Consolas,monospace">${escapeHtml(f.value)}</td></tr>`,
    )
    .join('');
  const paragraphs = e.lines
    .map((l) => `<p style="margin:0 0 10px 0">${escapeHtml(l)}</p>`)
    .join('');
  return `<!doctype html><html><body style="margin:0;padding:16px;background:#f5f5f5;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222">
<table role="presentation" cellpadding="0" cellspacing="0" style="max-width:640px;width:100%;background:#fff;border:1px solid #ddd">
<tr><td style="background:${BANNER[e.severity]};color:#fff;padding:12px 16px;font-size:16px;font-weight:bold">${escapeHtml(e.title)}</td></tr>
<tr><td style="padding:16px">${paragraphs}<table role="presentation" cellpadding="0" cellspacing="0">${rows}</table></td></tr>
<tr><td style="padding:8px 16px;color:#888;font-size:12px">quotaclock · ${escapeHtml(e.type)} · ${escapeHtml(e.at)}</td></tr>
</table></body></html>`;
}

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/**
 * Slack Block Kit: a header, the text, and a colour attachment (green when
 * all is well, orange otherwise) whose fields carry the counts.
 */
export function renderSlack(e: NotifyEvent): Record<string, unknown> {
  const fields = e.fields
    .slice(0, 10)
    .map((f) => ({ type: 'mrkdwn', text: clip(`*${f.label}*\n${f.value}`, 1900) }));
  return {
    text: clip(e.title, 2900),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(e.title, 150), emoji: true } },
      ...(e.lines.length
        ? [{ type: 'section', text: { type: 'mrkdwn', text: clip(e.lines.join('\n'), 2900) } }]
        : []),
    ],
    attachments: [
      {
        color: COLOURS[e.severity],
        blocks: [
          { type: 'section', fields },
          {
            type: 'context',
            elements: [{ type: 'mrkdwn', text: clip(`${e.type} · ${e.host} · ${e.at}`, 2900) }],
          },
        ],
      },
    ],
  };
}

/** The webhook's JSON document. */
export function renderWebhook(e: NotifyEvent, deliveryId: string): Record<string, unknown> {
  return {
    id: deliveryId,
    event: e.type,
    severity: e.severity,
    at: e.at,
    title: e.title,
    text: e.lines.join('\n'),
    host: e.host,
    log: e.log,
    ...(e.period === undefined ? {} : { period: e.period }),
    ...(e.durationMs === undefined ? {} : { durationMs: e.durationMs }),
    ...(e.counts === undefined ? {} : { counts: e.counts }),
    fields: Object.fromEntries(e.fields.map((f) => [f.label, f.value])),
    ...(e.data === undefined ? {} : { data: e.data }),
  };
}
