/** The dashboard's pure parts: escaping, formatting, the origin rule, the cookie, ranking by use, rendering. */
import { describe, expect, it } from 'vitest';
import { parseLimitField } from '../../src/server/dashboard/action-routes.js';
import { meter } from '../../src/server/dashboard/components.js';
import { Formatter, localeFrom } from '../../src/server/dashboard/format.js';
import { CSP, sameOrigin } from '../../src/server/dashboard/guard.js';
import { html, raw } from '../../src/server/dashboard/html.js';
import { renderPage } from '../../src/server/dashboard/layout.js';
import { renderAudit } from '../../src/server/dashboard/pages/audit.js';
import { readCookie, sessionCookie } from '../../src/server/dashboard/session-cookie.js';
import {
  decodeUseCursor,
  encodeUseCursor,
  rankByUse,
} from '../../src/server/dashboard/use-ranking.js';
import type { ViewContext } from '../../src/server/dashboard/view.js';

const ctx = (locale = 'en-US'): ViewContext => ({
  fmt: new Formatter(locale),
  viewer: { name: 'lead', readOnly: false },
  nowMs: Date.parse('2026-11-24T15:00:00Z'),
  zone: 'UTC',
});

describe('html templates', () => {
  it('escape every interpolated value unless it is already markup', () => {
    const id = '"><script>alert(1)</script>';
    expect(html`<a title="${id}">${id}</a>`.value).toBe(
      '<a title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</a>',
    );
    expect(
      html`<p>${raw('<b>x</b>')}${[html`<i>${'<'}</i>`, 'a&b']}${null}${false}</p>`.value,
    ).toBe('<p><b>x</b><i>&lt;</i>a&amp;b</p>');
  });

  it('an audit reason or actor with markup is shown, not run', () => {
    const body = renderAudit(
      {
        entries: [
          {
            id: '1',
            at: '2026-11-24T15:00:00Z',
            actor: '<img src=x onerror=alert(1)>',
            action: 'plan.set',
            subject: 'a"b',
            before: { plan: 'free' },
            after: { plan: '<b>pro</b>' },
            reason: '<script>x</script>',
          },
        ],
        next: null,
        actor: '',
        subject: '',
        paged: false,
      },
      ctx(),
    ).value;
    expect(body).not.toContain('<script>x');
    expect(body).not.toContain('<img src=x');
    expect(body).not.toContain('<b>pro');
    expect(body).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(body).toContain('/admin/subjects/a%22b');
  });
});

describe('formatting for the viewer', () => {
  it('takes the best supported locale from Accept-Language', () => {
    expect(localeFrom('de-DE,de;q=0.9,en;q=0.8')).toBe('de-DE');
    expect(localeFrom('xx-invalid-;q=1, fr;q=0.5')).toBe('fr');
    expect(localeFrom('en;q=0.2, ja;q=0.9')).toBe('ja');
    expect(localeFrom(undefined)).toBe('en-US');
    expect(localeFrom('*')).toBe('en-US');
  });

  it('formats numbers in the locale and instants in the given zone with UTC on hover', () => {
    expect(new Formatter('de-DE').num(1234567)).toBe('1.234.567');
    expect(new Formatter('en-US').num(1234567)).toBe('1,234,567');
    const t = new Formatter('en-US').instant('2026-11-30T23:00:00.000Z', 'Europe/Paris').value;
    expect(t).toContain('datetime="2026-11-30T23:00:00.000Z"');
    expect(t).toContain('title="2026-11-30 23:00:00 UTC"');
    expect(t).toContain('Dec 1, 2026');
    expect(t).toMatch(/GMT\+1|CET/);
  });
});

describe('the origin rule for POSTs', () => {
  const me = 'http://127.0.0.1:8787';
  it('accepts our own Origin, or our own Referer when Origin is absent', () => {
    expect(sameOrigin({ origin: me }, me)).toBe(true);
    expect(sameOrigin({ referer: `${me}/admin/subjects/a` }, me)).toBe(true);
  });
  it('refuses another site, an opaque origin, a different port or scheme, and a POST with neither header', () => {
    expect(sameOrigin({ origin: 'http://evil.example' }, me)).toBe(false);
    expect(sameOrigin({ origin: 'null' }, me)).toBe(false);
    expect(sameOrigin({ origin: 'http://127.0.0.1:8788' }, me)).toBe(false);
    expect(sameOrigin({ origin: 'https://127.0.0.1:8787' }, me)).toBe(false);
    // Origin wins over a matching Referer.
    expect(sameOrigin({ origin: 'http://evil.example', referer: `${me}/admin/` }, me)).toBe(false);
    expect(sameOrigin({ referer: 'not a url' }, me)).toBe(false);
    expect(sameOrigin({}, me)).toBe(false);
  });
  it('the CSP allows no inline script or style', () => {
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).toContain("style-src 'self'");
    expect(CSP).not.toContain('unsafe');
  });
});

describe('the session cookie', () => {
  it('is HttpOnly, SameSite=Strict, scoped to /admin, and Secure only over HTTPS', () => {
    expect(sessionCookie('tok', 28800, false)).toBe(
      'qc_session=tok; Path=/admin; Max-Age=28800; HttpOnly; SameSite=Strict',
    );
    expect(sessionCookie('tok', 60, true)).toContain('; Secure');
    expect(readCookie('a=1; qc_session=abc; b=2', 'qc_session')).toBe('abc');
    expect(readCookie('qc_session_x=1', 'qc_session')).toBeUndefined();
    expect(readCookie(undefined, 'qc_session')).toBeUndefined();
  });
});

describe('limit field', () => {
  it('reads a number, unlimited, or plan (remove the override), and names the field otherwise', () => {
    expect(parseLimitField('20')).toBe(20);
    expect(parseLimitField(' Unlimited ')).toBeNull();
    expect(parseLimitField('plan')).toBeUndefined();
    for (const bad of ['-1', '1.5', '1e3', 'lots', '99999999999999'])
      expect(() => parseLimitField(bad), bad).toThrow(/^limit:/);
  });
});

describe('ranking by use', () => {
  const rows = [
    { subject: 'a', plan: 'free', limits: { f: 10 }, used: { f: 3 } },
    { subject: 'b', plan: 'pro', limits: { f: 45 }, used: { f: 9 } },
    { subject: 'c', plan: 'free', limits: { f: 10 }, used: { f: 9 } },
    { subject: 'd', plan: 'free', limits: { f: 10 }, used: { f: 0 } },
    { subject: 'e', plan: 'pro', limits: { f: 45 }, used: { f: 30 } },
  ];
  it('pages most-used first, ties by id, with a keyset cursor that walks every row once', async () => {
    const seen: string[] = [];
    let after = null;
    for (;;) {
      const page = await rankByUse(rows, { after, limit: 2 });
      seen.push(...page.items.map((i) => i.subject));
      if (!page.next) break;
      after = decodeUseCursor(page.next);
    }
    expect(seen).toEqual(['e', 'b', 'c', 'a', 'd']);
  });
  it('filters by plan and id prefix', async () => {
    expect(
      (await rankByUse(rows, { after: null, limit: 10, plan: 'free' })).items.map((i) => i.subject),
    ).toEqual(['c', 'a', 'd']);
    expect(
      (await rankByUse(rows, { after: null, limit: 10, idPrefix: 'e' })).items.map(
        (i) => i.subject,
      ),
    ).toEqual(['e']);
  });
  it('round-trips its cursor, ids with colons included', () => {
    expect(decodeUseCursor(encodeUseCursor({ used: 12, id: 'org:1:x' }))).toEqual({
      used: 12,
      id: 'org:1:x',
    });
    expect(decodeUseCursor('garbage')).toBeNull();
  });
});

describe('rendering', () => {
  it('draws bars with SVG attributes, never a style attribute (the CSP would drop it)', () => {
    const m = meter(9, 10, 'f: 9 of 10').value;
    expect(m).toContain('width="90.00"');
    expect(m).toContain('class="fill warn"');
    expect(m).not.toContain('style=');
    expect(meter(10, 10, 'x').value).toContain('class="fill danger"');
  });
  it('a page has no inline script and links its script and stylesheet from /admin/static', () => {
    const page = renderPage({
      title: 't',
      nav: 'overview',
      viewer: { name: 'ro', readOnly: true },
      body: html`<p>x</p>`,
    });
    expect(page).toContain('<script src="/admin/static/dashboard.js');
    expect(page.match(/<script[^>]*>[^<]+<\/script>/g)).toBeNull();
    expect(page).not.toMatch(/ style="/);
    expect(page).toContain('read-only key');
  });
});
