import type { UsageReport } from '../../../report/usage-report.js';
import type { RunRecord } from '../../../store/quota-store.js';
import { dailyChart } from '../charts.js';
import { card, empty, meter, pill, subjectLink } from '../components.js';
import { relative } from '../format.js';
import { html, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import type { ViewContext } from '../view.js';
import { runTone, type NextClose } from './run-status.js';

export interface OverviewView {
  readonly report: Pick<
    UsageReport,
    'totals' | 'daily' | 'nearLimit' | 'nearThreshold' | 'scope' | 'features' | 'trend'
  >;
  readonly lastRun: RunRecord | null;
  readonly nextClose: NextClose | null;
}

function stat(label: string, value: string, note?: string | Html): Html {
  return html`<div class="card stat">
    <div class="label">${label}</div>
    <div class="value">${value}</div>
    ${note ? html`<div class="note">${note}</div>` : ''}
  </div>`;
}

export async function renderOverview(v: OverviewView, ctx: ViewContext): Promise<Html> {
  const { fmt } = ctx;
  const r = v.report;
  const units = r.daily.map((d) => Object.values(d.used).reduce((a, b) => a + b, 0));
  const denied = r.daily.map((d) => d.denied);
  const chart = await dailyChart(
    {
      days: r.daily.map((d) => d.day),
      series: [
        { name: 'Units used', values: units },
        { name: 'Requests denied', values: denied },
      ],
    },
    `Units used and requests denied per day, ${r.scope.label}: ${fmt.num(units.reduce((a, b) => a + b, 0))} units, ${fmt.num(denied.reduce((a, b) => a + b, 0))} denied`,
    (d) => fmt.day(d),
    (n) => fmt.num(n),
  );
  const trend = (c: UsageReport['trend']['used']) =>
    c.changePct === null
      ? 'no earlier data'
      : `${c.changePct > 0 ? '+' : ''}${fmt.num(c.changePct)} % vs previous period`;

  const near = r.nearLimit.length
    ? html`<div
        class="table-wrap"
        tabindex="0"
        role="region"
        aria-label="Subjects near their limit"
      >
        <table class="data">
          <thead>
            <tr>
              <th scope="col">Subject</th>
              <th scope="col">Plan</th>
              ${r.features.length > 1 ? html`<th scope="col">Feature</th>` : ''}
              <th scope="col" class="num">Used</th>
              <th scope="col" class="hide-sm">Of limit</th>
            </tr>
          </thead>
          <tbody>
            ${r.nearLimit.map(
              (l) =>
                html`<tr>
                  <td>${subjectLink(l.subject)}</td>
                  <td>${pill(l.plan, 'neutral', true)}</td>
                  ${r.features.length > 1 ? html`<td>${l.feature}</td>` : ''}
                  <td class="num">${fmt.num(l.used)} / ${fmt.limit(l.limit)}</td>
                  <td class="hide-sm nowrap">
                    ${l.pct === null ? '' : fmt.percent(l.pct / 100)}${meter(l.used, l.limit, `${l.subject}: ${fmt.num(l.used)} of ${fmt.limit(l.limit)}`, true)}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : empty(`No subject is above ${r.nearThreshold} % of a limit.`);

  const run = v.lastRun;
  const lastRun = run
    ? html`<div class="row run-head">
          <strong>${run.key}</strong>${pill(run.status, runTone(run.status))}
        </div>
        <dl class="props small">
          <dt>Started</dt>
          <dd>${fmt.instant(run.startedAt, ctx.zone)}</dd>
          <dt>Finished</dt>
          <dd>${fmt.instant(run.finishedAt, ctx.zone)}</dd>
          <dt>Subjects</dt>
          <dd>${fmt.num(run.checkpoint.subjects)}</dd>
        </dl>
        ${run.error ? html`<div class="flash error small">${run.error}</div>` : ''}`
    : empty('No close has run yet.');
  const next = v.nextClose
    ? html`<div class="stat-inline">
          <strong>${fmt.instant(v.nextClose.at, v.nextClose.zone)}</strong>
        </div>
        <p class="muted small">
          ${relative(v.nextClose.at, ctx.nowMs, fmt.locale)} · cron
          <code>${v.nextClose.cron}</code> in ${v.nextClose.zone}
        </p>`
    : empty('No schedule configured.');

  return html`${pageHead('Overview', html`${r.scope.key ?? r.scope.label}${r.scope.complete ? '' : ' (to date)'} · days in ${ctx.zone}`)}
    <div class="stack">
      <div class="stats">
        ${stat('Units used', fmt.num(r.totals.used), trend(r.trend.used))}
        ${stat('Requests denied', fmt.num(r.totals.denied), trend(r.trend.denied))}
        ${stat('At their limit', fmt.num(r.totals.atLimit), `of ${fmt.num(r.totals.subjects)} subjects`)}
        ${stat('Active subjects', fmt.num(r.totals.active), trend(r.trend.active))}
      </div>
      <div class="grid-3-1">
        ${card('Units and denials per day', chart, { id: 'h-daily' })}
        <div class="stack">
          ${card('Last close run', lastRun, { id: 'h-last-run', hint: html`<a href="/admin/runs">All runs</a>` })}
          ${card('Next scheduled close', next, { id: 'h-next' })}
        </div>
      </div>
      ${card('Near their limit', near, { id: 'h-near', flush: r.nearLimit.length > 0, hint: `at or above ${r.nearThreshold} %` })}
    </div>`;
}
