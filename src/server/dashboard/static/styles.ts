/**
 * The dashboard's one stylesheet, served from /admin/static/ (the CSP allows
 * styles from 'self' only: no inline style attributes anywhere in the pages).
 * Kept as a module so `tsc` ships it in dist/ with the code that links it.
 */
export const STYLES = String.raw`
:root {
  --bg: #f5f6f8;
  --surface: #ffffff;
  --surface-2: #f9fafb;
  --border: #e2e5ea;
  --border-strong: #cdd2da;
  --text: #161c26;
  --text-2: #3a4352;
  --muted: #5a6475;
  --accent: #3451d1;
  --accent-hover: #2a42b0;
  --accent-soft: #eef1fd;
  --ok: #16794a;
  --ok-soft: #e5f5ec;
  --warn: #8f5200;
  --warn-soft: #fff3df;
  --danger: #b42323;
  --danger-soft: #fdeceb;
  --side: #121826;
  --side-text: #c3cad6;
  --side-muted: #8892a3;
  --radius: 10px;
  --shadow: 0 1px 2px rgba(16, 24, 40, 0.05), 0 1px 3px rgba(16, 24, 40, 0.04);
  --font: 'Lato', 'Inter', system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  --mono: ui-monospace, 'SFMono-Regular', 'DejaVu Sans Mono', Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  font: 15px/1.5 var(--font);
  color: var(--text);
  background: var(--bg);
  font-variant-numeric: tabular-nums;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
:focus-visible { outline: 3px solid rgba(52, 81, 209, 0.45); outline-offset: 2px; border-radius: 4px; }
code, .mono { font-family: var(--mono); font-size: 0.88em; }
h1, h2, h3 { margin: 0; line-height: 1.25; letter-spacing: -0.01em; }
h1 { font-size: 24px; font-weight: 700; }
h2 { font-size: 16px; font-weight: 700; }
h3 { font-size: 14px; font-weight: 700; }
p { margin: 0 0 8px; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.skip { position: absolute; left: 12px; top: -48px; background: var(--accent); color: #fff; padding: 8px 14px; border-radius: 6px; z-index: 10; }
.skip:focus { top: 12px; }

/* shell */
.shell { display: grid; grid-template-columns: 240px minmax(0, 1fr); min-height: 100vh; background: linear-gradient(to right, var(--side) 240px, transparent 240px); }
.side { background: var(--side); color: var(--side-text); padding: 20px 14px; display: flex; flex-direction: column; gap: 20px; position: sticky; top: 0; height: 100vh; }
.brand { display: flex; align-items: center; gap: 10px; color: #fff; font-weight: 700; font-size: 17px; padding: 2px 8px; letter-spacing: -0.01em; }
.brand:hover { text-decoration: none; }
.brand-mark { width: 28px; height: 28px; border-radius: 8px; background: linear-gradient(135deg, #4c6ef5, #7048e8); display: grid; place-items: center; }
.brand-mark svg { display: block; }
.nav { display: flex; flex-direction: column; gap: 2px; margin: 0; padding: 0; list-style: none; }
.nav a { display: flex; align-items: center; gap: 10px; color: var(--side-text); padding: 8px 10px; border-radius: 7px; font-size: 14.5px; }
.nav a:hover { background: rgba(255, 255, 255, 0.06); color: #fff; text-decoration: none; }
.nav a[aria-current='page'] { background: rgba(116, 143, 252, 0.18); color: #fff; font-weight: 700; }
.nav svg { flex: none; opacity: 0.85; }
.side-foot { margin-top: auto; border-top: 1px solid rgba(255, 255, 255, 0.08); padding: 14px 8px 0; font-size: 13px; color: var(--side-muted); display: grid; gap: 8px; }
.side-foot strong { color: #fff; font-weight: 700; }
.side-foot .scope { display: inline-block; margin-left: 4px; }
.side-foot button { background: transparent; border: 1px solid rgba(255, 255, 255, 0.18); color: var(--side-text); border-radius: 6px; padding: 6px 10px; font: inherit; cursor: pointer; width: 100%; }
.side-foot button:hover { background: rgba(255, 255, 255, 0.08); color: #fff; }
.main { padding: 28px 36px 56px; max-width: 1240px; width: 100%; }
.page-head { display: flex; align-items: flex-end; justify-content: space-between; gap: 16px; margin-bottom: 22px; flex-wrap: wrap; }
.page-head .sub { color: var(--muted); margin-top: 4px; font-size: 14px; }
.crumbs { font-size: 13px; color: var(--muted); margin-bottom: 6px; }
.crumbs a { color: var(--muted); }

/* cards and grids */
.card { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); box-shadow: var(--shadow); }
.card-head { display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 16px 20px 0; flex-wrap: wrap; }
.card-head .hint { color: var(--muted); font-size: 13px; }
.card-body { padding: 16px 20px 20px; }
.card-body.flush { padding: 12px 0 4px; }
.stack { display: grid; gap: 20px; align-content: start; }
.stack > *, .grid-2 > *, .grid-3-1 > *, .stats > * { min-width: 0; }
.grid-2 { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 20px; }
.grid-3-1 { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 20px; align-items: start; }
.stats { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 16px; }
.stat { padding: 16px 18px; }
.stat .label { color: var(--muted); font-size: 13px; font-weight: 700; }
.stat .value { font-size: 26px; font-weight: 700; margin-top: 4px; letter-spacing: -0.02em; }
.stat .note { color: var(--muted); font-size: 13px; margin-top: 2px; }

/* tables */
.table-wrap { overflow-x: auto; }
table.data { width: 100%; border-collapse: collapse; font-size: 14px; }
table.data th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); font-weight: 700; padding: 8px 20px; border-bottom: 1px solid var(--border); white-space: nowrap; background: var(--surface-2); }
table.data td { padding: 11px 20px; border-bottom: 1px solid var(--border); vertical-align: middle; }
table.data tr:last-child td { border-bottom: 0; }
table.data tbody tr:hover td { background: #fafbfd; }
table.data .num { text-align: right; white-space: nowrap; }
table.data .nowrap { white-space: nowrap; }
table.data .when { white-space: nowrap; }
/* Break long words only where nothing else fits: "report-ana-denied-3" wraps at a hyphen, not mid-word. */
table.data td.wrap { max-width: 360px; overflow-wrap: break-word; }
.empty { padding: 28px 20px; text-align: center; color: var(--muted); }
.pager { display: flex; justify-content: space-between; align-items: center; padding: 12px 20px; border-top: 1px solid var(--border); font-size: 14px; gap: 12px; }

/* pills */
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 2px 9px; border-radius: 999px; font-size: 12.5px; font-weight: 700; white-space: nowrap; background: #eef0f4; color: var(--text-2); }
.pill::before { content: ''; width: 6px; height: 6px; border-radius: 50%; background: currentColor; opacity: 0.8; }
.pill.plain::before { display: none; }
.pill.ok { background: var(--ok-soft); color: var(--ok); }
.pill.warn { background: var(--warn-soft); color: var(--warn); }
.pill.danger { background: var(--danger-soft); color: var(--danger); }
.pill.accent { background: var(--accent-soft); color: var(--accent); }

/* buttons and forms */
.btn { display: inline-flex; align-items: center; justify-content: center; gap: 6px; font: inherit; font-size: 14px; font-weight: 700; padding: 8px 14px; border-radius: 7px; border: 1px solid var(--border-strong); background: var(--surface); color: var(--text); cursor: pointer; white-space: nowrap; line-height: 1.2; }
.btn:hover { background: var(--surface-2); text-decoration: none; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.btn.primary:hover { background: var(--accent-hover); }
.btn.danger { background: var(--surface); border-color: #e9b7b7; color: var(--danger); }
.btn.danger:hover { background: var(--danger-soft); }
.btn.small { padding: 5px 10px; font-size: 13px; }
label { font-size: 13px; font-weight: 700; color: var(--text-2); display: block; margin-bottom: 5px; }
input[type='text'], input[type='search'], input[type='number'], input[type='password'], select, textarea {
  font: inherit; font-size: 14px; color: var(--text); background: var(--surface); border: 1px solid var(--border-strong); border-radius: 7px; padding: 8px 11px; width: 100%; min-height: 38px;
}
input:focus, select:focus, textarea:focus { outline: none; border-color: var(--accent); box-shadow: 0 0 0 3px rgba(52, 81, 209, 0.18); }
.field { margin-bottom: 14px; }
.field .help { font-size: 12.5px; color: var(--muted); margin-top: 4px; }
.row { display: flex; gap: 10px; align-items: flex-end; flex-wrap: wrap; }
.row > .grow { flex: 1 1 200px; }
.toolbar { display: flex; gap: 10px; align-items: flex-end; flex-wrap: wrap; padding: 16px 20px; border-bottom: 1px solid var(--border); }
.toolbar .grow { flex: 1 1 240px; }
.toolbar .field { margin: 0; }

/* flash and callouts */
.flash { border-radius: 8px; padding: 12px 16px; margin-bottom: 20px; font-size: 14px; border: 1px solid; display: flex; gap: 10px; align-items: flex-start; }
.flash.ok { background: var(--ok-soft); border-color: #b6e0c8; color: #0f5a36; }
.flash.error { background: var(--danger-soft); border-color: #f0c2c0; color: #8a1c1c; }
.flash.info { background: var(--accent-soft); border-color: #cfd7fb; color: #243a9e; }
.flash.warn { background: var(--warn-soft); border-color: #f2d6a6; color: #6b3e00; }
.secret { font-family: var(--mono); font-size: 14px; background: #0f1522; color: #e6ebf5; padding: 12px 14px; border-radius: 8px; overflow-wrap: anywhere; margin: 8px 0; user-select: all; }

/* feature usage */
.usage { display: grid; gap: 18px; }
.usage-row .top { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.usage-row .name { font-weight: 700; }
.usage-row .figures { font-size: 14px; color: var(--text-2); }
.usage-row .figures strong { font-size: 18px; color: var(--text); }
.usage-row .meta { display: flex; justify-content: space-between; gap: 12px; font-size: 13px; color: var(--muted); margin-top: 6px; flex-wrap: wrap; }
.meter { display: block; width: 100%; height: 10px; margin-top: 8px; }
.meter .track { fill: #eceff4; }
.meter .fill { fill: var(--accent); }
.meter .fill.warn { fill: #e8890c; }
.meter .fill.danger { fill: #d63939; }
.meter .fill.ok { fill: #2f9e63; }
.usage-cell { white-space: nowrap; display: flex; align-items: center; }
.usage-cell .fig { display: inline-block; min-width: 108px; }
.mini-meter { display: inline-block; width: 90px; height: 6px; vertical-align: middle; margin-left: 8px; }
.mini-meter .track { fill: #eceff4; }
.mini-meter .fill { fill: var(--accent); }
.mini-meter .fill.danger { fill: #d63939; }
.mini-meter .fill.warn { fill: #e8890c; }

/* detail lists */
dl.props { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 8px 18px; margin: 0; font-size: 14px; }
dl.props dt { color: var(--muted); }
dl.props dd { margin: 0; overflow-wrap: anywhere; }

/* actions */
.actions { display: grid; gap: 10px; }
details.action { border: 1px solid var(--border); border-radius: 8px; background: var(--surface); }
details.action > summary { cursor: pointer; list-style: none; padding: 11px 14px; font-weight: 700; font-size: 14px; display: flex; justify-content: space-between; align-items: center; gap: 8px; }
details.action > summary::-webkit-details-marker { display: none; }
details.action > summary::after { content: ''; width: 8px; height: 8px; border-right: 2px solid var(--muted); border-bottom: 2px solid var(--muted); transform: rotate(45deg); margin-top: -4px; flex: none; }
details.action[open] > summary::after { transform: rotate(-135deg); margin-top: 4px; }
details.action > summary .desc { font-weight: 400; color: var(--muted); font-size: 13px; margin-left: auto; margin-right: 8px; }
details.action > form { padding: 4px 14px 14px; border-top: 1px solid var(--border); padding-top: 14px; }
details.action.danger > summary { color: var(--danger); }

/* charts */
.chart { width: 100%; margin: 0; }
.chart img { display: block; width: 100%; height: auto; }
.legend { display: flex; gap: 16px; font-size: 13px; color: var(--muted); flex-wrap: wrap; }
.legend span::before { content: ''; display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; background: var(--accent); }
.legend .c1::before { background: #e8590c; }
.legend .c2::before { background: #0ca678; }
.legend .c3::before { background: #7048e8; }
.legend .c4::before { background: #f59f00; }

/* runs timeline */
.timeline { list-style: none; margin: 0; padding: 4px 20px 12px; }
.timeline li { display: grid; grid-template-columns: 22px minmax(0, 1fr); gap: 12px; position: relative; padding: 12px 0; }
.timeline li + li { border-top: 1px solid var(--border); }
.timeline .dot { width: 12px; height: 12px; border-radius: 50%; margin-top: 5px; background: #9aa3b2; box-shadow: 0 0 0 4px #eef0f4; }
.timeline .dot.ok { background: #2f9e63; box-shadow: 0 0 0 4px var(--ok-soft); }
.timeline .dot.danger { background: #d63939; box-shadow: 0 0 0 4px var(--danger-soft); }
.timeline .dot.warn { background: #e8890c; box-shadow: 0 0 0 4px var(--warn-soft); }
.timeline .head { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.timeline .key { font-weight: 700; font-size: 15px; }
.timeline .detail { color: var(--muted); font-size: 13.5px; margin-top: 2px; }
.timeline .error { color: var(--danger); font-family: var(--mono); font-size: 13px; background: var(--danger-soft); padding: 8px 10px; border-radius: 6px; margin-top: 8px; overflow-wrap: anywhere; }

/* login */
.login { min-height: 100vh; display: grid; place-items: center; padding: 24px; background: radial-gradient(1200px 600px at 20% -10%, #e3e8ff 0%, transparent 60%), var(--bg); }
.login .panel { width: 100%; max-width: 400px; }
.login .brand { color: var(--text); margin-bottom: 18px; justify-content: center; font-size: 19px; }
.login .card-body { padding: 26px; }
.login h1 { font-size: 20px; margin-bottom: 6px; }
.login .btn { width: 100%; margin-top: 6px; padding: 10px 14px; }
.login .panel > p { text-align: center; margin-top: 14px; }

.kbd { font-family: var(--mono); font-size: 12px; border: 1px solid var(--border-strong); border-bottom-width: 2px; border-radius: 4px; padding: 0 5px; background: var(--surface); }
.diff { font-family: var(--mono); font-size: 12.5px; color: var(--text-2); overflow-wrap: anywhere; }
.diff .from { color: var(--danger); text-decoration: line-through; text-decoration-color: rgba(180, 35, 35, 0.4); }
.diff .to { color: var(--ok); }

fieldset.scopes { border: 0; padding: 0; margin: 0 0 14px; }
form.create-key { display: flex; gap: 12px 28px; align-items: flex-start; flex-wrap: wrap; }
form.create-key .grow { flex: 1 1 260px; margin: 0; }
form.create-key fieldset.scopes { margin: 0; }
form.create-key .btn { margin-top: 24px; }
fieldset.scopes legend { font-size: 13px; font-weight: 700; color: var(--text-2); margin-bottom: 6px; padding: 0; }
label.check { display: flex; align-items: center; gap: 8px; font-weight: 400; margin: 0 0 6px; font-size: 14px; cursor: pointer; }
label.check input { width: 16px; height: 16px; accent-color: var(--accent); margin: 0; }
.run-head { align-items: center; margin-bottom: 10px; }
.run-head strong { font-size: 17px; }

@media (max-width: 1100px) {
  .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid-3-1, .grid-2 { grid-template-columns: minmax(0, 1fr); }
}
@media (max-width: 760px) {
  body { font-size: 14.5px; }
  .shell { grid-template-columns: minmax(0, 1fr); background: none; }
  .side { position: static; height: auto; padding: 12px 12px 0; gap: 10px; }
  .brand { padding: 0 4px; }
  /* Six short links in two rows of three: every page in sight, nothing scrolls sideways. */
  .nav { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 4px; padding-bottom: 10px; }
  .nav a { justify-content: center; padding: 7px 6px; white-space: nowrap; font-size: 14px; }
  .nav svg { display: none; }
  .side { display: grid; grid-template-columns: minmax(0, 1fr) auto; align-items: center; }
  .side > * { min-width: 0; }
  .side nav { grid-column: 1 / -1; }
  .side-foot { margin: 0; border: 0; padding: 0; display: block; grid-row: 1; grid-column: 2; }
  .side-foot > div { display: none; }
  .side-foot button { padding: 5px 10px; font-size: 13px; }
  .main { padding: 18px 14px 40px; }
  h1 { font-size: 21px; }
  .page-head { margin-bottom: 16px; }
  .stats { gap: 10px; }
  .stat { padding: 12px 14px; }
  .stat .value { font-size: 21px; }
  table.data th, table.data td { padding-left: 10px; padding-right: 10px; }
  table.data th:first-child, table.data td:first-child { padding-left: 14px; }
  table.data th:last-child, table.data td:last-child { padding-right: 14px; }
  table.data .btn.small { padding: 4px 8px; }
  /* A ledger instant takes two lines on a phone (date, then time) so the row fits. */
  table.data .when { white-space: normal; min-width: 5.5em; }
  table.data .hide-sm { display: none; }
  .card-head { padding: 14px 14px 0; }
  .card-body { padding: 14px; }
  .toolbar { padding: 14px; }
  .pager { padding: 12px 14px; }
  .timeline { padding: 4px 14px 10px; }
  .mobile-only { display: block; }
  /* The bar goes under the figures, as wide as the cell, so it is never cut off. */
  form.create-key fieldset.scopes { flex-basis: 100%; }
  form.create-key .btn { margin-top: 0; width: 100%; }
  .usage-cell { display: grid; gap: 5px; }
  .usage-cell + .usage-cell { margin-top: 6px; }
  .usage-cell .fig { min-width: 0; }
  .usage-cell .mini-meter { display: block; width: 100%; min-width: 72px; margin: 0; }
}
.mobile-only { display: none; }
.show-sm { display: none; }
@media (max-width: 760px) { .mobile-only { display: flex; } .show-sm { display: block; margin-top: 3px; } }
`;
