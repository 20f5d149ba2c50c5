import type { Limit } from '../../../core/plans.js';
import { empty, meter, pager, pill, subjectLink } from '../components.js';
import { html, query, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import type { ViewContext } from '../view.js';

export interface SubjectRowView {
  readonly id: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly plan: string;
  readonly suspended: boolean;
  /** Current-period use of each feature. */
  readonly usage: readonly {
    readonly feature: string;
    readonly used: number;
    readonly limit: Limit;
  }[];
}

export type SubjectSort = 'id' | 'use';

export interface SubjectsView {
  readonly rows: readonly SubjectRowView[];
  readonly next: string | null;
  readonly q: string;
  readonly plan: string;
  readonly sort: SubjectSort;
  readonly plans: readonly string[];
  /** Whether this is not the first page (a link back to it is shown). */
  readonly paged: boolean;
}

function usageCell(r: SubjectRowView, ctx: ViewContext): Html {
  const { fmt } = ctx;
  return html`${r.usage.map(
    (u) =>
      html`<div class="usage-cell">
        ${r.usage.length > 1 ? html`<span class="muted small">${u.feature}</span> ` : ''}<span
          class="fig"
          >${fmt.num(u.used)} / ${fmt.limit(u.limit)}</span
        >${u.limit === null ? '' : meter(u.used, u.limit, `${u.feature}: ${fmt.num(u.used)} of ${fmt.limit(u.limit)}`, true)}
      </div>`,
  )}`;
}

function status(r: SubjectRowView): Html {
  if (r.suspended) return pill('Suspended', 'danger');
  const full = r.usage.some((u) => u.limit !== null && u.used >= u.limit);
  return full ? pill('At limit', 'warn') : pill('Active', 'ok');
}

export function renderSubjects(v: SubjectsView, ctx: ViewContext): Html {
  const filters = { q: v.q, plan: v.plan, sort: v.sort === 'id' ? null : v.sort };
  const toolbar = html`<form class="toolbar" method="get" action="/admin/subjects" role="search">
    <div class="field grow">
      <label for="q">Search</label
      ><input
        id="q"
        name="q"
        type="search"
        value="${v.q}"
        placeholder="Id or email prefix"
        autocomplete="off"
      />
    </div>
    <div class="field">
      <label for="plan">Plan</label
      ><select id="plan" name="plan" data-autosubmit>
        <option value="">All plans</option>
        ${v.plans.map((p) => html`<option value="${p}" ${p === v.plan ? html` selected` : ''}>${p}</option>`)}
      </select>
    </div>
    <div class="field">
      <label for="sort">Sort</label
      ><select id="sort" name="sort" data-autosubmit>
        <option value="id" ${v.sort === 'id' ? html` selected` : ''}>By id</option>
        <option value="use" ${v.sort === 'use' ? html` selected` : ''}>By use, most first</option>
      </select>
    </div>
    <button class="btn" type="submit">Apply</button>
  </form>`;
  const table = v.rows.length
    ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Subjects">
        <table class="data">
          <caption class="sr-only">
            Subjects${v.q ? `, matching “${v.q}”` : ''}${v.plan ? `, on ${v.plan}` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Subject</th>
              <th scope="col" class="hide-sm">Email</th>
              <th scope="col">Plan</th>
              <th scope="col">This period</th>
              <th scope="col" class="hide-sm">Status</th>
            </tr>
          </thead>
          <tbody>
            ${v.rows.map(
              (r) =>
                html`<tr>
                  <td>
                    ${subjectLink(r.id)}${r.name ? html`<div class="muted small">${r.name}</div>` : ''}
                  </td>
                  <td class="hide-sm wrap">${r.email ?? html`<span class="muted">—</span>`}</td>
                  <td>${pill(r.plan, 'neutral', true)}</td>
                  <td>${usageCell(r, ctx)}</td>
                  <td class="hide-sm">${status(r)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : empty(v.q || v.plan ? 'No subject matches these filters.' : 'No subjects yet.');
  return html`${pageHead('Subjects', 'Search by id or email prefix. Press / to jump to the search box.')}
    <section class="card" aria-label="Subjects">
      ${toolbar} ${table}
      ${pager(v.next, (after) => `/admin/subjects${query({ ...filters, after })}`, v.paged ? `/admin/subjects${query(filters)}` : null, 'Subject pages')}
    </section>`;
}
