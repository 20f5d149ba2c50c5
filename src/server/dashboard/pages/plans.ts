import type { Plan } from '../../../core/plans.js';
import { card, pill } from '../components.js';
import { html, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import type { ViewContext } from '../view.js';

export interface PlansView {
  readonly plans: readonly Plan[];
  readonly features: readonly string[];
  readonly defaultPlan: string;
  readonly period: { readonly every: string; readonly anchor: string; readonly timeZone: string };
  /** Subjects per plan, when the store can count them cheaply; otherwise absent. */
  readonly retention: number;
}

export function renderPlans(v: PlansView, ctx: ViewContext): Html {
  const { fmt } = ctx;
  const table = html`<div
    class="table-wrap"
    tabindex="0"
    role="region"
    aria-label="Plans and limits"
  >
    <table class="data">
      <caption class="sr-only">
        Plans and their limits per period
      </caption>
      <thead>
        <tr>
          <th scope="col">Plan</th>
          ${v.features.map((f) => html`<th scope="col" class="num">${f}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${v.plans.map(
          (p) =>
            html`<tr>
              <td>
                <strong>${p.name}</strong
                >${p.name === v.defaultPlan ? html` ${pill('default', 'accent', true)}` : ''}
              </td>
              ${v.features.map((f) => {
                const l = p.limits[f];
                return html`<td class="num">
                  ${l === undefined ? html`<span class="muted">—</span>` : l === null ? pill('Unlimited', 'ok', true) : `${fmt.num(l)} per ${v.period.every}`}
                </td>`;
              })}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
  const rule = html`<dl class="props">
    <dt>Period</dt>
    <dd>every ${v.period.every}</dd>
    <dt>Anchor</dt>
    <dd>
      ${v.period.anchor === 'calendar' ? 'calendar (1st of the month, 00:00 local)' : 'signup anniversary'}
    </dd>
    <dt>Time zone</dt>
    <dd>${v.period.timeZone} <span class="muted small">(subjects may have their own)</span></dd>
    <dt>History kept</dt>
    <dd>${fmt.num(v.retention)} periods</dd>
  </dl>`;
  return html`${pageHead('Plans', 'The catalog comes from the config file; change it there and restart.')}
    <div class="grid-3-1">
      ${card('Limits', table, { id: 'h-limits', flush: true })}
      ${card('Period rule', rule, { id: 'h-rule' })}
    </div>`;
}
