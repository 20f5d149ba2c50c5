import type { ResetReport } from '../../../jobs/reset-report.js';
import type { RunRecord } from '../../../store/quota-store.js';
import { card, empty, pill } from '../components.js';
import { relative } from '../format.js';
import { html, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import type { ViewContext } from '../view.js';
import { runTone, type NextClose } from './run-status.js';

export interface RunsView {
  readonly runs: readonly RunRecord[];
  /** The dry run of the next close, when asked for (?preview=1). */
  readonly preview: ResetReport | null;
  readonly nextClose: NextClose | null;
}

function durationText(run: RunRecord): string {
  if (!run.finishedAt) return 'still running';
  const ms = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  // A business clock pinned with --now makes every run take no time; say nothing rather than "0 ms".
  if (ms <= 0) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function timeline(runs: readonly RunRecord[], ctx: ViewContext): Html {
  if (!runs.length)
    return empty(
      'No close has run yet. The first scheduled close, or "Run now", starts the ledger.',
    );
  const { fmt } = ctx;
  return html`<ol class="timeline" aria-label="Close runs, newest first">
    ${runs.map((r) => {
      const tone = runTone(r.status);
      return html`<li class="run run-${r.status}" data-status="${r.status}">
        <span class="dot ${tone}" aria-hidden="true"></span>
        <div>
          <div class="head">
            <span class="key">${r.key}</span
            >${pill(r.status === 'failed' ? 'failed' : r.status, tone)}${r.attempts > 1 ? html`<span class="muted small">${fmt.num(r.attempts)} attempts</span>` : ''}
          </div>
          <div class="detail">
            Started
            ${fmt.instant(r.startedAt, ctx.zone)}${durationText(r) ? ` · ${durationText(r)}` : ''} ·
            ${fmt.num(r.checkpoint.subjects)} subjects closed
          </div>
          ${r.error ? html`<div class="error" role="note">${r.error}</div>` : ''}
        </div>
      </li>`;
    })}
  </ol>`;
}

function previewBody(p: ResetReport, ctx: ViewContext): Html {
  const { fmt } = ctx;
  if (!p.periods.length)
    return html`<p class="muted">Nothing to close: no period has ended since the last run.</p>`;
  return html`<div
      class="table-wrap"
      tabindex="0"
      role="region"
      aria-label="What the next close would do"
    >
      <table class="data">
        <caption class="sr-only">
          What the next close would do
        </caption>
        <thead>
          <tr>
            <th scope="col">Period</th>
            <th scope="col" class="num">Subjects</th>
            <th scope="col" class="num">Units</th>
            <th scope="col" class="num">At limit</th>
          </tr>
        </thead>
        <tbody>
          ${p.periods.map(
            (x) =>
              html`<tr>
                <td><strong>${x.key}</strong></td>
                <td class="num">${fmt.num(x.subjects)}</td>
                <td class="num">${fmt.num(x.used)}</td>
                <td class="num">${fmt.num(x.atLimit)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <p class="muted small">
      A dry run: nothing was
      written.${p.alreadyClosed.length ? ` Already closed: ${p.alreadyClosed.join(', ')}.` : ''}
    </p>`;
}

export function renderRuns(v: RunsView, ctx: ViewContext): Html {
  const { fmt } = ctx;
  const failed = v.runs.filter((r) => r.status === 'failed').length;
  const next = v.nextClose
    ? html`<p>
        <strong>${fmt.instant(v.nextClose.at, v.nextClose.zone)}</strong><br /><span
          class="muted small"
          >${relative(v.nextClose.at, ctx.nowMs, fmt.locale)} · cron
          <code>${v.nextClose.cron}</code></span
        >
      </p>`
    : html`<p class="muted">No schedule configured.</p>`;
  const preview = v.preview
    ? html`<div id="preview">${previewBody(v.preview, ctx)}</div>`
    : html`<p class="muted small">
          See exactly what the next close would do, without writing anything.
        </p>
        <a class="btn" href="/admin/runs?preview=1#preview">Preview the next close</a>`;
  const runNow = html`<form
    method="post"
    action="/admin/runs/run"
    data-confirm="Close every ended period now? This takes the same lease as the scheduled job."
  >
    <p class="muted small">
      Closes every ended period now, under the same lease as the scheduler: if another close holds
      it, nothing runs twice.
    </p>
    <button class="btn primary" type="submit">Run now</button>
  </form>`;
  return html`${pageHead('Runs', failed ? html`<span class="pill danger">${fmt.num(failed)} failed</span> in the ledger` : 'The close ledger, newest first')}
    <div class="grid-3-1">
      <div class="stack">
        ${card('Timeline', timeline(v.runs, ctx), { id: 'h-timeline', flush: true })}
        ${card('Dry-run preview of the next close', preview, { id: 'h-preview' })}
      </div>
      <div class="stack">
        ${card('Run now', runNow, { id: 'h-run-now' })}
        ${card('Next scheduled close', next, { id: 'h-next' })}
      </div>
    </div>`;
}
