import type { UsageEventView } from '../../../core/admin-types.js';
import type { HistoryEntry, StatusResult, Subject } from '../../../core/types.js';
import type { CheckResult } from '../../../quotaclock.js';
import { dailyChartImage } from '../charts.js';
import { actionForm, card, empty, meter, pager, pill } from '../components.js';
import { html, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import type { ViewContext } from '../view.js';

export interface SubjectView {
  readonly subject: Subject;
  readonly status: StatusResult;
  readonly history: readonly HistoryEntry[];
  readonly events: {
    readonly items: readonly UsageEventView[];
    readonly next: string | null;
    readonly paged: boolean;
  };
  readonly plans: readonly string[];
  readonly check: {
    readonly feature: string;
    readonly amount: number;
    readonly result: CheckResult;
  } | null;
}

const base = (id: string) => `/admin/subjects/${encodeURIComponent(id)}`;

function usageBars(v: SubjectView, ctx: ViewContext): Html {
  const { fmt } = ctx;
  const zone = v.status.timeZone;
  return html`<div class="usage">
    ${Object.entries(v.status.features).map(([feature, f]) => {
      const label = `${feature}: ${fmt.num(f.used)} used of ${fmt.limit(f.limit)}`;
      const overridden = Object.prototype.hasOwnProperty.call(v.subject.overrides, feature);
      return html`<div class="usage-row" data-feature="${feature}">
        <div class="top">
          <span class="name"
            >${feature}${overridden ? html` ${pill('override', 'accent', true)}` : ''}</span
          >
          <span class="figures"
            ><strong>${fmt.num(f.used)}</strong> / ${fmt.limit(f.limit)} used</span
          >
        </div>
        ${meter(f.used, f.limit, label)}
        <div class="meta">
          <span class="remaining"
            >${f.unlimited ? 'Unlimited' : html`<strong>${fmt.num(f.remaining ?? 0)}</strong> remaining`}</span
          >
          <span>Resets ${fmt.instant(v.status.period.end, zone)}</span>
        </div>
      </div>`;
    })}
  </div>`;
}

function why(v: SubjectView): Html {
  const s = v.status;
  if (s.suspended)
    return html`<div class="flash error" role="note">
      <div>
        <strong>Suspended.</strong> Every consume is
        denied${s.suspendedReason ? html`: “${s.suspendedReason}”` : ''}.
      </div>
    </div>`;
  const full = Object.entries(s.features).filter(([, f]) => f.limit !== null && f.used >= f.limit);
  if (!full.length) return html``;
  return html`<div class="flash warn" role="note">
    <div>
      <strong>At the limit.</strong>
      ${full.map(([name, f], i) => html`${i ? '; ' : ''}${name} has used all ${String(f.limit)} units of the ${s.plan} plan${Object.prototype.hasOwnProperty.call(v.subject.overrides, name) ? ' (overridden)' : ''}`)}.
      Requests are denied until the period resets, the limit is raised, or usage is reset.
    </div>
  </div>`;
}

function historyTable(v: SubjectView, ctx: ViewContext): Html {
  if (!v.history.length) return empty('No period yet.');
  const { fmt } = ctx;
  const features = Object.keys(v.status.features);
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Period history">
    <table class="data">
      <caption class="sr-only">
        Period history, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">Period</th>
          <th scope="col" class="hide-sm">Plan</th>
          ${features.map((f) => html`<th scope="col" class="num">${f}</th>`)}
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        ${v.history.map(
          (h) =>
            html`<tr>
              <td>
                <strong>${h.key}</strong>
                <div class="muted small hide-sm">${fmt.instant(h.start, v.status.timeZone)}</div>
              </td>
              <td class="hide-sm">${h.plan ?? (h.closed ? '—' : v.subject.plan)}</td>
              ${features.map((f) => {
                const x = h.features[f];
                return html`<td class="num">
                  ${x ? `${fmt.num(x.used)} / ${fmt.limit(x.limit)}` : '—'}
                </td>`;
              })}
              <td>${h.closed ? pill('Closed', 'neutral') : pill('Open', 'accent')}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function ledger(v: SubjectView, ctx: ViewContext): Html {
  const { fmt } = ctx;
  const items = v.events.items;
  if (!items.length) return empty('No usage recorded yet.');
  const refunded = new Set(
    items.filter((e) => e.kind === 'refund' && e.key).map((e) => `${e.feature}\u0000${e.key}`),
  );
  const metaText = (m: Readonly<Record<string, unknown>>) => {
    const entries = Object.entries(m).filter(([k]) => !k.startsWith('_'));
    return entries.length
      ? entries.map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`).join(' · ')
      : '';
  };
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Usage ledger">
      <table class="data">
        <caption class="sr-only">
          Usage ledger, newest first
        </caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Event</th>
            <th scope="col" class="num">Units</th>
            <th scope="col" class="hide-sm">Key and details</th>
            <th scope="col"><span class="sr-only">Action</span></th>
          </tr>
        </thead>
        <tbody>
          ${items.map((e) => {
            const denied = e.kind === 'consume' && e.granted === false;
            const kindTone = denied
              ? 'danger'
              : e.kind === 'consume'
                ? 'accent'
                : e.kind === 'refund'
                  ? 'ok'
                  : 'warn';
            const kindText = denied ? 'denied' : e.kind;
            const canRefund =
              e.kind === 'consume' &&
              !denied &&
              e.key !== null &&
              !refunded.has(`${e.feature}\u0000${e.key}`);
            return html`<tr>
              <td class="when">${fmt.instantShort(e.at, v.status.timeZone)}</td>
              <td>
                ${pill(kindText, kindTone)}${Object.keys(v.status.features).length > 1 ? html` <span class="muted small">${e.feature}</span>` : ''}
              </td>
              <td class="num${denied ? ' muted' : ''}">
                ${e.kind === 'consume' ? (denied ? '' : '+') : '−'}${fmt.num(Math.abs(e.amount))}
              </td>
              <td class="hide-sm wrap">
                ${e.key ? html`<code>${e.key}</code>` : html`<span class="muted">no key</span>`}${metaText(e.meta) ? html`<div class="muted small">${metaText(e.meta)}</div>` : ''}
              </td>
              <td class="num">
                ${
                  canRefund
                    ? html`<form
                        method="post"
                        action="${base(v.subject.id)}/refund"
                        data-confirm="${`Refund ${e.amount} unit(s) of ${e.feature} (key ${e.key})?`}"
                      >
                        <input type="hidden" name="key" value="${e.key}" /><button
                          class="btn small"
                          type="submit"
                          aria-label="${`Refund event ${e.key}`}"
                        >
                          Refund
                        </button>
                      </form>`
                    : ''
                }
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
    ${pager(v.events.next, (after) => `${base(v.subject.id)}?events_after=${encodeURIComponent(after)}#ledger`, v.events.paged ? `${base(v.subject.id)}#ledger` : null, 'Ledger pages')}`;
}

function tryCheck(v: SubjectView, ctx: ViewContext): Html {
  const features = Object.keys(v.status.features);
  const c = v.check;
  const result = c
    ? c.result.allowed
      ? html`<div class="flash ok" role="status" id="check-result" data-allowed="true">
          <div>
            <strong>Allowed.</strong> ${ctx.fmt.num(c.amount)} × ${c.feature} would be granted now;
            ${c.result.remaining === null ? 'unlimited' : `${ctx.fmt.num(c.result.remaining)} remaining`}.
          </div>
        </div>`
      : html`<div class="flash error" role="status" id="check-result" data-allowed="false">
          <div>
            <strong>Denied</strong> (${c.result.reason ?? 'refused'}). ${ctx.fmt.num(c.amount)} ×
            ${c.feature}: ${ctx.fmt.num(c.result.used)} of ${ctx.fmt.limit(c.result.limit)} used.
          </div>
        </div>`
    : '';
  return html`<form method="get" action="${base(v.subject.id)}#try">
      <div class="row">
        ${
          features.length > 1
            ? html`<div class="field grow">
                <label for="check-feature">Feature</label
                ><select id="check-feature" name="check">
                  ${features.map((f) => html`<option${c?.feature === f ? html` selected` : ''}>${f}</option>`)}
                </select>
              </div>`
            : html`<input type="hidden" name="check" value="${features[0]}" />`
        }
        <div class="field grow">
          <label for="check-amount">Units</label
          ><input
            id="check-amount"
            name="amount"
            type="number"
            min="1"
            step="1"
            value="${c?.amount ?? 1}"
          />
        </div>
        <div class="field"><button class="btn" type="submit">Try a check</button></div>
      </div>
      <p class="muted small">Asks what a consume would answer now. Nothing is written.</p>
    </form>
    ${result}`;
}

function actions(v: SubjectView): Html {
  const s = v.subject;
  const features = Object.keys(v.status.features);
  const id = s.id;
  const setPlan = actionForm({
    id: 'plan',
    action: `${base(id)}/plan`,
    summary: 'Change plan',
    description: s.plan,
    confirm: `Change the plan of ${id}?`,
    submit: 'Change plan',
    fields: html`<div class="field">
      <label for="plan-new">New plan</label
      ><select id="plan-new" name="plan">
        ${v.plans.map((p) => html`<option${p === s.plan ? html` selected` : ''}>${p}</option>`)}
      </select>
    </div>`,
  });
  const override = actionForm({
    id: 'override',
    action: `${base(id)}/override`,
    summary: 'Override a limit',
    confirm: `Override a limit of ${id}?`,
    submit: 'Save override',
    fields: html`${
        features.length > 1
          ? html`<div class="field">
              <label for="override-feature">Feature</label
              ><select id="override-feature" name="feature">
                ${features.map((f) => html`<option>${f}</option>`)}
              </select>
            </div>`
          : html`<input type="hidden" name="feature" value="${features[0]}" />`
      }
      <div class="field">
        <label for="override-limit"
          >New limit${features.length > 1 ? '' : ` for ${features[0]}`}</label
        ><input
          id="override-limit"
          name="limit"
          type="text"
          inputmode="numeric"
          required
          pattern="[0-9]+|unlimited|plan"
          autocomplete="off"
          placeholder="e.g. 20"
        />
        <div class="help">
          A whole number, <code>unlimited</code>, or <code>plan</code> to go back to the plan's
          limit.
        </div>
      </div>`,
  });
  const suspend = s.suspended
    ? actionForm({
        id: 'unsuspend',
        action: `${base(id)}/unsuspend`,
        summary: 'Unsuspend',
        confirm: `Unsuspend ${id}?`,
        submit: 'Unsuspend',
        fields: html``,
      })
    : actionForm({
        id: 'suspend',
        action: `${base(id)}/suspend`,
        summary: 'Suspend',
        description: 'deny every request',
        danger: true,
        confirm: `Suspend ${id}? Every request will be denied.`,
        submit: 'Suspend',
        fields: html``,
      });
  const reset = actionForm({
    id: 'reset',
    action: `${base(id)}/reset`,
    summary: 'Reset usage',
    description: 'this period',
    danger: true,
    confirm: `Reset this period's usage of ${id} to zero?`,
    submit: 'Reset usage',
    fields: html`<p class="muted small">
      Sets this period's usage of every feature to zero. Recorded in the ledger and the audit log.
    </p>`,
  });
  return html`<div class="actions">${setPlan}${override}${suspend}${reset}</div>`;
}

export async function renderSubject(v: SubjectView, ctx: ViewContext): Promise<Html> {
  const { fmt } = ctx;
  const s = v.subject;
  const st = v.status;
  const chart = dailyChartImage(
    `${base(s.id)}/daily.svg`,
    `Units used per day in ${st.period.key} (${st.timeZone}): ${Object.entries(st.features)
      .map(([f, x]) => `${fmt.num(x.used)} ${f}`)
      .join(', ')} so far`,
    Object.keys(st.features),
  );
  const head = pageHead(
    s.id,
    html`${s.name ? html`${s.name} · ` : ''}${s.email ?? 'no email'} ·
    ${pill(s.plan, 'accent', true)} ${s.suspended ? pill('Suspended', 'danger') : ''}`,
    undefined,
    html`<a href="/admin/subjects">Subjects</a> /`,
  );
  return html`${head} ${why(v)}
    <div class="grid-3-1">
      <div class="stack">
        ${card(`This period · ${st.period.key}`, usageBars(v, ctx), { id: 'h-usage', hint: html`${fmt.instant(st.period.start, st.timeZone)} – ${fmt.instant(st.period.end, st.timeZone)}` })}
        ${card('Daily use', chart, { id: 'h-daily', hint: `days in ${st.timeZone}` })}
        ${card('Period history', historyTable(v, ctx), { id: 'h-history', flush: v.history.length > 0 })}
        <div id="ledger">
          ${card('Event ledger', ledger(v, ctx), { id: 'h-ledger', flush: v.events.items.length > 0, hint: `times in ${st.timeZone}` })}
        </div>
      </div>
      <div class="stack">
        <div id="try">${card('Try a check', tryCheck(v, ctx), { id: 'h-try' })}</div>
        ${card('Actions', actions(v), { id: 'h-actions' })}
        ${card(
          'Details',
          html`<dl class="props">
            <dt>Plan</dt>
            <dd>${s.plan}</dd>
            <dt>Time zone</dt>
            <dd>
              ${st.timeZone}${s.timeZone ? '' : html` <span class="muted small">(default)</span>`}
            </dd>
            <dt>Email</dt>
            <dd>${s.email ?? '—'}</dd>
            <dt>Created</dt>
            <dd>${fmt.instant(s.createdAt, st.timeZone)}</dd>
            <dt>Overrides</dt>
            <dd>
              ${Object.keys(s.overrides).length ? Object.entries(s.overrides).map(([f, l], i) => html`${i ? ', ' : ''}${f} = ${fmt.limit(l)}`) : 'none'}
            </dd>
          </dl>`,
          { id: 'h-details' },
        )}
      </div>
    </div>`;
}
