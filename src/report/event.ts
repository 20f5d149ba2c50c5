import type { MessageContext } from '../notify/messages.js';
import type { NotifyEvent } from '../notify/types.js';
import { CHART_SIZE } from './chart.js';
import { renderReportHtml, summaryLines } from './render.js';
import type { UsageReport } from './usage-report.js';

/** The Content-ID the email's HTML uses for the chart. */
export const CHART_CID = 'usage-chart@quotaclock';

const num = (n: number) => n.toLocaleString('en-US');

/**
 * The report as an event: email gets the full HTML with the chart as an
 * inline (cid) PNG, Slack the summary and the key figures, the webhook the
 * whole report as JSON.
 */
export function reportEvent(r: UsageReport, png: Buffer | null, ctx: MessageContext): NotifyEvent {
  return {
    type: 'report',
    severity: 'ok',
    title: r.title,
    lines: summaryLines(r),
    fields: [
      { label: 'Period', value: r.scope.label, short: true },
      { label: 'Units used', value: num(r.totals.used), short: true },
      {
        label: 'Active subjects',
        value: `${num(r.totals.active)} of ${num(r.totals.subjects)}`,
        short: true,
      },
      { label: 'At limit', value: num(r.totals.atLimit), short: true },
      ...r.plans.slice(0, 4).map((p) => ({
        label: r.features.length > 1 ? `${p.plan} · ${p.feature}` : p.plan,
        value: `${p.meanPct === null ? 'unlimited' : `mean ${p.meanPct}%, median ${p.medianPct}%`}, ${num(p.atLimit)} at limit`,
        short: true,
      })),
      { label: 'Host', value: ctx.host, short: true },
    ],
    host: ctx.host,
    log: ctx.log,
    at: new Date(ctx.nowMs ?? Date.now()).toISOString(),
    period: r.scope.key ?? r.scope.label,
    counts: {
      subjects: r.totals.subjects,
      active: r.totals.active,
      used: r.totals.used,
      atLimit: r.totals.atLimit,
      denied: r.totals.denied,
    },
    data: r,
    html: renderReportHtml(
      r,
      png ? { src: `cid:${CHART_CID}`, width: CHART_SIZE.width, height: CHART_SIZE.height } : null,
    ),
    ...(png
      ? {
          attachments: [
            { filename: 'usage-chart.png', contentType: 'image/png', content: png, cid: CHART_CID },
          ],
        }
      : {}),
  };
}
