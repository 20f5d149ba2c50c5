import { html } from '../html.js';
import { BRAND_MARK, renderBare } from '../layout.js';

export interface LoginView {
  readonly error?: string;
  readonly notice?: string;
}

/** The sign-in form: it posts `key`, form-encoded, to /admin/login. */
export function renderLogin(v: LoginView = {}): string {
  return renderBare(
    'Sign in',
    html`<div class="panel">
      <div class="brand">${BRAND_MARK}quotaclock</div>
      <div class="card">
        <div class="card-body">
          <h1>Sign in to the dashboard</h1>
          <p class="muted small">
            Use an API key with the <code>admin:read</code> or <code>admin:write</code> scope.
            Create one with <code>quotaclock keys create --scope admin:write</code>.
          </p>
          ${v.error ? html`<div class="flash error" role="alert">${v.error}</div>` : ''}
          ${v.notice ? html`<div class="flash info" role="status">${v.notice}</div>` : ''}
          <form method="post" action="/admin/login">
            <div class="field">
              <label for="key">Admin API key</label>
              <input
                id="key"
                name="key"
                type="password"
                required
                autocomplete="off"
                spellcheck="false"
                placeholder="qck_…"
                autofocus
              />
            </div>
            <button class="btn primary" type="submit">Sign in</button>
          </form>
        </div>
      </div>
      <p class="muted small">The key is checked once; the browser keeps only a session cookie.</p>
    </div>`,
  );
}
