/**
 * Every dashboard page in real Chromium against a live `serve`: axe-core
 * finds no serious or critical violation, the strict CSP reports nothing
 * blocked, and a screenshot of each page at 1280 and 390 px goes to
 * docs/dashboard/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import {
  available,
  axeSerious,
  launch,
  newContext,
  screenshot,
  signIn,
  WIDTHS,
} from './browser.js';
import { startDashboard, type DashboardFixture } from './fixture.js';

const PAGES: [string, string][] = [
  ['overview', '/admin/'],
  ['subjects', '/admin/subjects'],
  ['subjects-search', '/admin/subjects?q=ana'],
  ['subjects-by-use', '/admin/subjects?sort=use'],
  ['subject', '/admin/subjects/ana'],
  ['plans', '/admin/plans'],
  ['runs', '/admin/runs?preview=1'],
  ['audit', '/admin/audit'],
  ['keys', '/admin/keys'],
];

describe.skipIf(!available)('dashboard pages in Chromium', () => {
  let fx: DashboardFixture;
  let browser: Browser;
  beforeAll(async () => {
    fx = await startDashboard();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await fx?.stop();
  });

  it('sign-in page: accessible, and it is where every page sends a visitor without a session', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    for (const [, path] of PAGES) {
      const res = await page.goto(`${fx.url}${path}`);
      expect(page.url()).toBe(`${fx.url}/admin/login`);
      expect(res!.status()).toBe(200);
    }
    expect(await axeSerious(page)).toEqual([]);
    await screenshot(page, 'login-1280');
    await page.setViewportSize(WIDTHS.phone);
    await screenshot(page, 'login-390');
    expect(ctx.cspErrors).toEqual([]);
    await ctx.close();
  });

  it("numbers in the viewer's locale, instants in the subject's zone with UTC on hover", async () => {
    const values: Record<string, string> = {};
    for (const locale of ['en-US', 'de-DE']) {
      const ctx = await newContext(browser, 'desktop', locale);
      const page = await ctx.newPage();
      await signIn(page, fx.url, fx.keys.lead);
      values[locale] = (await page.locator('.stat .value').first().textContent())!.trim();
      if (locale === 'en-US') {
        await page.goto(`${fx.url}/admin/subjects/ana`);
        const reset = page.locator('[data-feature="stock_reports"] time');
        // Europe/Paris: the period ends at midnight local, 23:00 UTC.
        expect(await reset.getAttribute('title')).toBe('2026-11-30 23:00:00 UTC');
        expect(await reset.textContent()).toMatch(/^Dec 1, 2026, 12:00\sAM GMT\+1$/);
      }
      await ctx.close();
    }
    expect(values['en-US']).toMatch(/^\d{1,3}(,\d{3})+$/);
    expect(values['de-DE']).toBe(values['en-US']!.replace(/,/g, '.'));
  });

  it("the subject page's chart is an SVG image at the asked size, and needs a session", async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await signIn(page, fx.url, fx.keys.lead);
    const wide = await page.request.get(`${fx.url}/admin/subjects/ana/daily.svg?size=wide`);
    expect(wide.status()).toBe(200);
    expect(wide.headers()['content-type']).toContain('image/svg+xml');
    const svg = await wide.text();
    expect(svg).toMatch(/^<svg[^>]*width="640"/);
    expect(svg).not.toContain('<script');
    const narrow = await page.request.get(`${fx.url}/admin/subjects/ana/daily.svg?size=narrow`);
    expect(await narrow.text()).toMatch(/^<svg[^>]*width="360"/);
    const bad = await page.request.get(`${fx.url}/admin/subjects/ana/daily.svg?size=huge`);
    expect(bad.status()).toBe(400);
    const anonymous = await fetch(`${fx.url}/admin/subjects/ana/daily.svg?size=wide`, {
      redirect: 'manual',
    });
    expect(anonymous.status).toBe(303);
    await ctx.close();
  });

  for (const width of ['desktop', 'phone'] as const) {
    it(`every page at ${WIDTHS[width].width} px: no serious axe violation, nothing blocked by the CSP, a screenshot`, async () => {
      const ctx = await newContext(browser, width);
      const page = await ctx.newPage();
      await signIn(page, fx.url, fx.keys.lead);
      for (const [name, path] of PAGES) {
        const res = await page.goto(`${fx.url}${path}`);
        expect(res!.status(), path).toBe(200);
        const headers = res!.headers();
        expect(headers['content-security-policy']).toContain("script-src 'self'");
        expect(headers['content-security-policy']).not.toContain('unsafe-inline');
        const violations = await axeSerious(page);
        expect(
          violations.map(
            (v) => `${path}: ${v.id} ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`,
          ),
        ).toEqual([]);
        // Nothing wider than the viewport, and no table or menu that has to scroll sideways
        // (the skip link waits off-screen until focused, by design).
        const wide = await page.evaluate(() =>
          [...document.querySelectorAll('body *')]
            .filter(
              (e) =>
                (!e.closest('.skip') &&
                  e.getBoundingClientRect().right > window.innerWidth + 0.5 &&
                  !e.closest('.table-wrap')) ||
                (e.matches('.table-wrap, .nav') && e.scrollWidth > e.clientWidth + 1),
            )
            .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
            .slice(0, 5),
        );
        expect(wide, `${path} is wider than the window`).toEqual([]);
        // Every chart is drawn: the subject page's is its own SVG image, fetched at the shown size.
        const charts = await page.$$eval('figure.chart img', (imgs) =>
          imgs.map((i) => (i as HTMLImageElement).naturalWidth),
        );
        expect(
          charts.every((w) => w > 0),
          `${path}: a chart did not load`,
        ).toBe(true);
        await screenshot(page, `${name}-${WIDTHS[width].width}`);
      }
      expect(ctx.cspErrors).toEqual([]);
      await ctx.close();
    });
  }
});
