/**
 * The dashboard's progressive script, served from /admin/static/ (the CSP
 * forbids inline script). Every page works without it: it only asks for
 * confirmation before a write, submits a filter on change, copies a new key
 * and lets "/" jump to the search box.
 */
export const SCRIPT = String.raw`(function () {
  'use strict';
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    var message = form.getAttribute('data-confirm');
    if (message && !window.confirm(message)) e.preventDefault();
  });
  document.addEventListener('change', function (e) {
    var el = e.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute('data-autosubmit') && el.form) el.form.requestSubmit();
  });
  document.addEventListener('click', function (e) {
    var btn = e.target instanceof Element ? e.target.closest('[data-copy]') : null;
    if (!btn) return;
    var source = document.getElementById(btn.getAttribute('data-copy'));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      btn.textContent = 'Copied';
    });
  });
  document.addEventListener('keydown', function (e) {
    if (e.key !== '/' || e.metaKey || e.ctrlKey || e.altKey) return;
    var t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    var search = document.querySelector('input[type=search]');
    if (search) {
      e.preventDefault();
      search.focus();
    }
  });
})();
`;
