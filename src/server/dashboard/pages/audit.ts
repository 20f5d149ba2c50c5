import type { AuditEntry } from '../../../core/admin-types.js';
import { empty, pager, pill, subjectLink, type Tone } from '../components.js';
import { html, query, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import { describeChange, type ViewContext } from '../view.js';

export interface AuditView {
  readonly entries: readonly AuditEntry[];
  readonly next: string | null;
  readonly actor: string;
  readonly subject: string;
  readonly paged: boolean;
}

function actionTone(action: string): Tone {
  if (action.startsWith('key.')) return 'accent';
  if (action === 'subject.suspend' || action === 'key.revoke' || action === 'subject.reset')
    return 'danger';
  if (action === 'override.set' || action === 'plan.set') return 'warn';
  return 'neutral';
}

function change(e: AuditEntry): Html {
  const parts = describeChange(e.before, e.after);
  return html`<div class="diff">
    ${parts.map(
      (p, i) =>
        html`${i ? html`<br />` : ''}${p.field ? html`${p.field}: ` : ''}${p.from ? html`<span class="from">${p.from}</span> → ` : ''}<span
            class="to"
            >${p.to}</span
          >`,
    )}
  </div>`;
}

export function renderAudit(v: AuditView, ctx: ViewContext): Html {
  const filters = { actor: v.actor, subject: v.subject };
  const toolbar = html`<form class="toolbar" method="get" action="/admin/audit">
    <div class="field grow">
      <label for="actor">Actor</label
      ><input
        id="actor"
        name="actor"
        type="text"
        value="${v.actor}"
        placeholder="A key's name, or cli"
        autocomplete="off"
      />
    </div>
    <div class="field grow">
      <label for="subject">Subject</label
      ><input
        id="subject"
        name="subject"
        type="text"
        value="${v.subject}"
        placeholder="Subject id"
        autocomplete="off"
      />
    </div>
    <button class="btn" type="submit">Filter</button>
    ${v.actor || v.subject ? html`<a class="btn" href="/admin/audit">Clear</a>` : ''}
  </form>`;
  const table = v.entries.length
    ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Audit log entries">
        <table class="data">
          <caption class="sr-only">
            Audit log, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col" class="hide-sm">Actor</th>
              <th scope="col">Action</th>
              <th scope="col" class="hide-sm">Subject</th>
              <th scope="col" class="hide-sm">Change</th>
              <th scope="col" class="hide-sm">Reason</th>
            </tr>
          </thead>
          <tbody>
            ${v.entries.map(
              (e) =>
                html`<tr data-action="${e.action}">
                  <td class="when">
                    ${ctx.fmt.instant(e.at, ctx.zone)}
                    <div class="show-sm small">by <strong>${e.actor}</strong></div>
                  </td>
                  <td class="hide-sm"><strong>${e.actor}</strong></td>
                  <td class="wrap">
                    ${pill(e.action, actionTone(e.action), true)}
                    <div class="show-sm small">
                      ${e.subject ? subjectLink(e.subject) : ''}${e.reason ? html`<div class="muted">${e.reason}</div>` : ''}
                    </div>
                  </td>
                  <td class="hide-sm">
                    ${e.subject ? subjectLink(e.subject) : html`<span class="muted">—</span>`}
                  </td>
                  <td class="hide-sm wrap">${change(e)}</td>
                  <td class="hide-sm wrap">${e.reason ?? html`<span class="muted">—</span>`}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : empty(
        v.actor || v.subject ? 'No entry matches these filters.' : 'Nothing has been changed yet.',
      );
  return html`${pageHead('Audit log', 'Every admin write, by whom, with the value before and after')}
    <section class="card" aria-label="Audit log">
      ${toolbar} ${table}
      ${pager(v.next, (after) => `/admin/audit${query({ ...filters, after })}`, v.paged ? `/admin/audit${query(filters)}` : null, 'Audit pages')}
    </section>`;
}
