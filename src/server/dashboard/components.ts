import type { Limit } from '../../core/plans.js';
import { html, raw, type Html } from './html.js';

export type Tone = 'ok' | 'warn' | 'danger' | 'accent' | 'neutral';

export function pill(text: string, tone: Tone = 'neutral', plain = false): Html {
  return html`<span class="pill ${tone === 'neutral' ? '' : tone}${plain ? ' plain' : ''}"
    >${text}</span
  >`;
}

/** How full a limit is, as a tone: red at the limit, amber from 80 %. */
export function usageTone(used: number, limit: Limit): Tone {
  if (limit === null) return 'ok';
  if (used >= limit) return 'danger';
  if (limit > 0 && used / limit >= 0.8) return 'warn';
  return 'accent';
}

/**
 * A bar drawn with SVG attributes, not a style attribute: the CSP allows no
 * inline styles. role=img with a label carries the numbers to screen readers.
 */
export function meter(used: number, limit: Limit, label: string, mini = false): Html {
  const frac = limit === null ? 0 : limit === 0 ? 1 : Math.min(1, used / limit);
  const tone = usageTone(used, limit);
  const width = (frac * 100).toFixed(2);
  return html`<svg
    class="${mini ? 'mini-meter' : 'meter'}"
    viewBox="0 0 100 10"
    preserveAspectRatio="none"
    role="img"
    aria-label="${label}"
  >
    <rect class="track" x="0" y="0" width="100" height="10" rx="${mini ? 3 : 5}"></rect>
    <rect
      class="fill ${tone === 'accent' ? '' : tone}"
      x="0"
      y="0"
      width="${width}"
      height="10"
      rx="${mini ? 3 : 5}"
    ></rect>
  </svg>`;
}

export function card(
  title: string | Html,
  body: Html,
  opts: { hint?: Html | string; id?: string; flush?: boolean } = {},
): Html {
  const id = opts.id ?? '';
  return html`<section class="card"${id ? raw(` aria-labelledby="${id}"`) : ''}>
    <div class="card-head"><h2${id ? raw(` id="${id}"`) : ''}>${title}</h2>${opts.hint ? html`<div class="hint">${opts.hint}</div>` : ''}</div>
    <div class="card-body${opts.flush ? ' flush' : ''}">${body}</div>
  </section>`;
}

export function empty(text: string | Html): Html {
  return html`<div class="empty">${text}</div>`;
}

export function subjectLink(id: string): Html {
  return html`<a href="/admin/subjects/${encodeURIComponent(id)}">${id}</a>`;
}

/** A form that changes something: a reason (when asked), a confirmation prompt, a visible submit. */
export interface ActionForm {
  readonly action: string;
  readonly summary: string;
  readonly description?: string;
  readonly fields: Html;
  readonly submit: string;
  readonly confirm: string;
  readonly danger?: boolean;
  readonly reason?: boolean;
  readonly open?: boolean;
  readonly id: string;
}

export function actionForm(a: ActionForm): Html {
  return html`<details class="action${a.danger ? ' danger' : ''}" ${a.open ? raw(' open') : ''}>
    <summary>
      ${a.summary}${a.description ? html`<span class="desc">${a.description}</span>` : ''}
    </summary>
    <form method="post" action="${a.action}" data-confirm="${a.confirm}">
      ${a.fields}
      ${
        a.reason === false
          ? ''
          : html`<div class="field">
              <label for="${a.id}-reason">Reason</label
              ><input
                id="${a.id}-reason"
                name="reason"
                type="text"
                required
                maxlength="500"
                autocomplete="off"
                placeholder="Shown in the audit log"
              />
            </div>`
      }
      <button class="btn ${a.danger ? 'danger' : 'primary'}" type="submit">${a.submit}</button>
    </form>
  </details>`;
}

export function pager(
  next: string | null,
  hrefFor: (after: string) => string,
  first: string | null,
  label: string,
): Html {
  if (!next && !first) return html``;
  return html`<nav class="pager" aria-label="${label}">
    <span
      >${first ? html`<a href="${first}">← First page</a>` : html`<span class="muted">First page</span>`}</span
    >
    <span
      >${next ? html`<a href="${hrefFor(next)}" rel="next">Next page →</a>` : html`<span class="muted">End of list</span>`}</span
    >
  </nav>`;
}
