import { html, raw, type Html } from './html.js';

export const ASSET_VERSION = '1';

export type NavKey = 'overview' | 'subjects' | 'plans' | 'runs' | 'audit' | 'keys';

/** Who is looking: the key the session was opened with. */
export interface Viewer {
  readonly name: string;
  /** True for an admin:read key: every write is refused. */
  readonly readOnly: boolean;
}

export interface Flash {
  readonly kind: 'ok' | 'error' | 'info' | 'warn';
  readonly text: string | Html;
}

export interface PageShell {
  readonly title: string;
  readonly nav: NavKey;
  readonly viewer: Viewer;
  readonly body: Html;
  readonly flash?: readonly Flash[];
}

const ICONS: Record<NavKey, string> = {
  overview: 'M3 13h8V3H3v10zm0 8h8v-6H3v6zm10 0h8V11h-8v10zm0-18v6h8V3h-8z',
  subjects:
    'M16 11a4 4 0 1 0-4-4 4 4 0 0 0 4 4zm-8 0a3 3 0 1 0-3-3 3 3 0 0 0 3 3zm0 2c-2.7 0-6 1.3-6 4v2h6v-2c0-1.2.5-2.3 1.4-3.1A9 9 0 0 0 8 13zm8 0c-3 0-7 1.5-7 4.5V20h14v-2.5C23 14.5 19 13 16 13z',
  plans: 'M4 5h16v3H4zm0 5.5h16v3H4zM4 16h10v3H4z',
  runs: 'M12 2a10 10 0 1 0 10 10A10 10 0 0 0 12 2zm1 10.4 3.5 2.1-.8 1.3L11 13V7h2z',
  audit: 'M6 2h9l5 5v15H6zm8 1.5V8h4.5M9 12h8v1.6H9zm0 3.5h8v1.6H9z',
  keys: 'M14 3a7 7 0 0 0-6.7 9.1L2 17.4V22h4.6l.9-.9V19h2.1l.9-.9V16h2.1l1.2-1.2A7 7 0 1 0 14 3zm2.5 6A1.5 1.5 0 1 1 18 7.5 1.5 1.5 0 0 1 16.5 9z',
};

const NAV: readonly [NavKey, string, string][] = [
  ['overview', 'Overview', '/admin/'],
  ['subjects', 'Subjects', '/admin/subjects'],
  ['plans', 'Plans', '/admin/plans'],
  ['runs', 'Runs', '/admin/runs'],
  ['audit', 'Audit log', '/admin/audit'],
  ['keys', 'API keys', '/admin/keys'],
];

function icon(path: string): Html {
  return raw(
    `<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="${path}"/></svg>`,
  );
}

export const BRAND_MARK = raw(
  '<span class="brand-mark" aria-hidden="true"><svg width="16" height="16" viewBox="0 0 24 24"><circle cx="12" cy="12" r="8.5" fill="none" stroke="#fff" stroke-width="2.4"/><path d="M12 7v5.2l3.4 2" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/></svg></span>',
);

function head(title: string): Html {
  return html`<meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="same-origin" />
    <title>${title} · quotaclock</title>
    <link rel="stylesheet" href="/admin/static/dashboard.css?v=${ASSET_VERSION}" />
    <script src="/admin/static/dashboard.js?v=${ASSET_VERSION}" defer></script>`;
}

export function flashes(list: readonly Flash[] | undefined): Html {
  return html`${(list ?? []).map(
    (f) =>
      html`<div class="flash ${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">
        ${f.text}
      </div>`,
  )}`;
}

export function logoutForm(label = 'Sign out'): Html {
  return html`<form method="post" action="/admin/logout">
    <button type="submit">${label}</button>
  </form>`;
}

/** The signed-in page: sidebar (a top bar on narrow screens) and the main column. */
export function renderPage(p: PageShell): string {
  const nav = NAV.map(
    ([key, label, href]) =>
      html`<li>
        <a href="${href}" ${key === p.nav ? raw(' aria-current="page"') : ''}
          >${icon(ICONS[key])}${label}</a
        >
      </li>`,
  );
  const viewer = p.viewer;
  const doc = html`<!doctype html>
    <html lang="en">
      <head>
        ${head(p.title)}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <div class="shell">
          <header class="side">
            <a class="brand" href="/admin/">${BRAND_MARK}quotaclock</a>
            <nav aria-label="Main">
              <ul class="nav">
                ${nav}
              </ul>
            </nav>
            <div class="side-foot">
              <div>
                Signed in as
                <strong>${viewer.name}</strong
                >${viewer.readOnly ? html`<span class="scope">(read only)</span>` : ''}
              </div>
              ${logoutForm()}
            </div>
          </header>
          <main id="main" class="main" tabindex="-1">
            ${viewer.readOnly ? html`<div class="flash info" role="status">You are signed in with a read-only key (<code>admin:read</code>). You can look at everything; changes are refused.</div>` : ''}
            ${flashes(p.flash)} ${p.body}
          </main>
        </div>
      </body>
    </html>`;
  return doc.value;
}

/** A page outside the session (sign-in, errors before sign-in). */
export function renderBare(title: string, body: Html): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        ${head(title)}
      </head>
      <body>
        <main class="login">${body}</main>
      </body>
    </html>`.value;
}

export function pageHead(title: string, sub?: string | Html, aside?: Html, crumbs?: Html): Html {
  return html`<div class="page-head">
    <div>
      ${crumbs ? html`<div class="crumbs">${crumbs}</div>` : ''}
      <h1>${title}</h1>
      ${sub ? html`<div class="sub">${sub}</div>` : ''}
    </div>
    ${aside ?? ''}
  </div>`;
}
