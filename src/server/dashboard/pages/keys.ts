import { SCOPES, type ApiKeyInfo, type NewApiKey } from '../../../core/admin-types.js';
import { card, empty, pill } from '../components.js';
import { html, type Html } from '../html.js';
import { pageHead } from '../layout.js';
import type { ViewContext } from '../view.js';

export interface KeysView {
  readonly keys: readonly ApiKeyInfo[];
  /** A key just created: its secret is shown this once. */
  readonly created: NewApiKey | null;
  /** The id of the key this session was opened with. */
  readonly currentKeyId: string;
}

/** A key just created: its secret, shown this once, with a copy button. */
function createdNotice(created: NewApiKey | null): Html | string {
  return created
    ? html`<div class="flash ok" role="status">
        <div>
          <strong>Key “${created.name}” created.</strong> Copy it now: it is shown this once and
          cannot be read back.
          <div class="secret" id="new-key">${created.key}</div>
          <button class="btn small" type="button" data-copy="new-key">Copy to clipboard</button>
        </div>
      </div>`
    : '';
}

function createForm(): Html {
  return html`<form
    class="create-key"
    method="post"
    action="/admin/keys"
    data-confirm="Create this API key?"
  >
    <div class="field grow">
      <label for="key-name">Name</label
      ><input
        id="key-name"
        name="name"
        type="text"
        required
        maxlength="100"
        autocomplete="off"
        placeholder="e.g. web-app"
      />
      <div class="help">Shown in the audit log as the actor.</div>
    </div>
    <fieldset class="field scopes">
      <legend>Scopes</legend>
      ${SCOPES.map(
        (s) =>
          html`<label class="check"
            ><input
              type="checkbox"
              name="scopes"
              value="${s}"
              ${s === 'quota:write' ? html` checked` : ''}
            />
            <code>${s}</code></label
          >`,
      )}
    </fieldset>
    <button class="btn primary" type="submit">Create key</button>
  </form>`;
}

function keysTable(v: KeysView, ctx: ViewContext): Html {
  const { fmt } = ctx;
  return v.keys.length
    ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="API keys">
        <table class="data">
          <caption class="sr-only">
            API keys, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="hide-sm">Prefix</th>
              <th scope="col" class="hide-sm">Scopes</th>
              <th scope="col" class="hide-sm">Created</th>
              <th scope="col">Status</th>
              <th scope="col"><span class="sr-only">Action</span></th>
            </tr>
          </thead>
          <tbody>
            ${v.keys.map(
              (k) =>
                html`<tr data-key-id="${k.id}">
                  <td>
                    <strong>${k.name}</strong
                    >${k.id === v.currentKeyId ? html` ${pill('this session', 'accent', true)}` : ''}
                    <div class="show-sm small"><code>${k.prefix}…</code></div>
                  </td>
                  <td class="hide-sm"><code>${k.prefix}…</code></td>
                  <td class="hide-sm">
                    ${k.scopes.map((s, i) => html`${i ? ' ' : ''}<code>${s}</code>`)}
                  </td>
                  <td class="hide-sm nowrap">${fmt.instant(k.createdAt, ctx.zone)}</td>
                  <td>${k.revokedAt ? pill('Revoked', 'danger') : pill('Active', 'ok')}</td>
                  <td class="num">
                    ${
                      k.revokedAt
                        ? ''
                        : html`<form
                            method="post"
                            action="/admin/keys/${encodeURIComponent(k.id)}/revoke"
                            data-confirm="${`Revoke “${k.name}”? Every request and session using it stops at once.`}"
                          >
                            <button
                              class="btn small danger"
                              type="submit"
                              aria-label="${`Revoke ${k.name}`}"
                            >
                              Revoke
                            </button>
                          </form>`
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    : empty('No keys yet.');
}

export function renderKeys(v: KeysView, ctx: ViewContext): Html {
  const created = createdNotice(v.created);
  const form = createForm();
  const table = keysTable(v, ctx);
  return html`${pageHead('API keys', 'Keys are stored as hashes; a key is shown once, when it is created')}
    ${created}
    <div class="stack">
      ${card('Keys', table, { id: 'h-keys', flush: v.keys.length > 0 })}
      ${card('Create a key', form, { id: 'h-create' })}
    </div>`;
}
