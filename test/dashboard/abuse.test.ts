/**
 * What must not get in (issue 16, "Abuse"): a cross-site POST, an expired
 * session, a quota:write key at the sign-in, an admin:read session pressing a
 * write button, and repeated wrong keys. Each is refused, and the store is
 * compared before and after.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createQuotaClock } from '../../src/quotaclock.js';
import { available, launch, newContext, signIn } from './browser.js';
import { NOW_MS, startDashboard, type DashboardFixture } from './fixture.js';

describe.skipIf(!available)('dashboard abuse', () => {
  let fx: DashboardFixture;
  let browser: Browser;
  let evil: Server;
  let evilUrl: string;
  beforeAll(async () => {
    fx = await startDashboard(['--trust-proxy', '--session-ttl', '600']);
    browser = await launch();
    // Another site: its page posts a form to the dashboard as soon as it loads.
    evil = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><form id="f" method="post" action="${fx.url}/admin/subjects/ana/suspend">
        <input name="reason" value="pwned"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    // localhost vs 127.0.0.1: a different site to the browser.
    evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => evil?.close(r));
    await fx?.stop();
  });

  /** What a write could change: the subject, the audit log, the keys and the sessions' effect. */
  async function snapshot() {
    return JSON.stringify({
      ana: await fx.qc.getSubject('ana'),
      status: await fx.qc.status('ana'),
      audit: (await fx.qc.audit.list({ limit: 100 })).items,
      keys: await fx.qc.keys.list(),
    });
  }

  async function cookieFor(key: string): Promise<string> {
    const res = await fetch(`${fx.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: fx.url },
      body: new URLSearchParams({ key }),
    });
    expect(res.status).toBe(303);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('the cookie: HttpOnly, SameSite=Strict, --session-ttl long, Secure when a trusted proxy says HTTPS', async () => {
    const host = new URL(fx.url).host;
    const res = await fetch(`${fx.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Forwarded-Proto': 'https',
        Origin: `https://${host}`,
      },
      body: new URLSearchParams({ key: fx.keys.lead }),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(
      /^qc_session=[A-Za-z0-9_-]{32,}; Path=\/admin; Max-Age=600; HttpOnly; SameSite=Strict; Secure$/,
    );
    const token = cookie.split(';')[0]!.split('=')[1]!;
    const session = await fx.qc.sessions.lookup(token);
    expect(session!.expiresAt).toBe(new Date(NOW_MS + 600_000).toISOString());
    // Plain HTTP: no Secure flag.
    expect(await cookieFor(fx.keys.lead)).toMatch(/^qc_session=/);
    const plain = await fetch(`${fx.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: fx.url },
      body: new URLSearchParams({ key: fx.keys.lead }),
    });
    expect(plain.headers.get('set-cookie')).not.toContain('Secure');
  });

  it('a cross-site POST is refused: by the browser (SameSite=Strict) and by the origin check, with nothing changed', async () => {
    const before = await snapshot();
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await signIn(page, fx.url, fx.keys.lead);
    const answer = page.waitForResponse((r) => r.url().endsWith('/admin/subjects/ana/suspend'));
    await page.goto(evilUrl);
    expect((await answer).status()).toBe(403);
    await ctx.close();

    // A client that does send the cookie, with another site's Origin, or a Referer from it, or neither.
    const cookie = await cookieFor(fx.keys.lead);
    for (const headers of [
      { Origin: 'http://evil.example' },
      { Origin: 'null' },
      { Referer: 'http://evil.example/x' },
      {},
    ]) {
      const res = await fetch(`${fx.url}/admin/subjects/ana/suspend`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Cookie: cookie,
          ...headers,
        },
        body: 'reason=pwned',
      });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    // The same request from our own origin does go through: the check is what refused the others.
    const ok = await fetch(`${fx.url}/admin/subjects/ana/suspend`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Cookie: cookie,
        Origin: fx.url,
      },
      body: 'reason=support+test',
    });
    expect(ok.status).toBe(303);
    expect((await fx.qc.getSubject('ana')).suspended).toBe(true);
    await fx.qc.unsuspend('ana');
    const after = JSON.parse(await snapshot());
    const was = JSON.parse(before);
    expect(after.ana).toEqual(was.ana);
    expect(after.audit.filter((e: { reason?: string }) => e.reason === 'pwned')).toEqual([]);
  });

  it('an expired session is sent to the sign-in, for pages and for writes', async () => {
    // A real session in the store, made by the library with a clock that puts its expiry in the past.
    const keyId = (await fx.qc.keys.list()).find((k) => k.name === 'support-lead')!.id;
    const past = createQuotaClock({ config: { store: fx.db }, clock: () => NOW_MS - 3_600_000 });
    const { token } = await past.sessions.create(keyId, 60_000);
    await past.close();
    const before = await snapshot();
    const ctx = await newContext(browser);
    await ctx.addCookies([{ name: 'qc_session', value: token, url: `${fx.url}/admin/` }]);
    const page = await ctx.newPage();
    await page.goto(`${fx.url}/admin/subjects/ana`);
    expect(page.url()).toBe(`${fx.url}/admin/login`);
    const res = await fetch(`${fx.url}/admin/subjects/ana/suspend`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Cookie: `qc_session=${token}`,
        Origin: fx.url,
      },
      body: 'reason=late',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/login');
    expect(res.headers.get('set-cookie')).toContain('Max-Age=0');
    expect(await snapshot()).toBe(before);
    await ctx.close();
  });

  it('a quota:write key cannot sign in: 401, the form again, no cookie', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await page.goto(`${fx.url}/admin/login`);
    await page.getByLabel('Admin API key').fill(fx.keys.writer);
    const [res] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST',
      ),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(res.status()).toBe(401);
    expect(res.headers()['set-cookie']).toBeUndefined();
    expect(await page.locator('.flash.error').textContent()).toContain('has no admin scope');
    expect(await ctx.cookies()).toEqual([]);
    await page.goto(`${fx.url}/admin/`);
    expect(page.url()).toBe(`${fx.url}/admin/login`);
    await ctx.close();
  });

  it('an admin:read session sees the pages, but pressing a write button answers 403 and changes nothing', async () => {
    const before = await snapshot();
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    page.on('dialog', (d) => void d.accept());
    await signIn(page, fx.url, fx.keys.auditor);
    await page.goto(`${fx.url}/admin/subjects/ana`);
    expect(await page.locator('.flash.info').textContent()).toContain('read-only');
    await page.locator('summary', { hasText: 'Suspend' }).click();
    await page.locator('#suspend-reason').fill('trying anyway');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/subjects/ana/suspend')),
      page.getByRole('button', { name: 'Suspend', exact: true }).click(),
    ]);
    expect(res.status()).toBe(403);
    expect(await page.locator('.flash.error').textContent()).toContain('Nothing was changed');
    // Key creation and run now are refused the same way.
    await page.goto(`${fx.url}/admin/keys`);
    await page.getByLabel('Name').fill('sneaky');
    const [created] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith('/admin/keys') && r.request().method() === 'POST',
      ),
      page.getByRole('button', { name: 'Create key' }).click(),
    ]);
    expect(created.status()).toBe(403);
    expect(await page.locator('.secret').count()).toBe(0);
    await page.goto(`${fx.url}/admin/runs`);
    const [ran] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/runs/run')),
      page.getByRole('button', { name: 'Run now' }).click(),
    ]);
    expect(ran.status()).toBe(403);
    expect(await snapshot()).toBe(before);
    expect((await (await fx.qc.store()).getRun('2026-10'))!.status).toBe('failed');
    await ctx.close();
  });

  it('wrong keys at the sign-in are limited: the 11th attempt within a minute gets 429 with Retry-After, even with a right key', async () => {
    const post = (key: string) =>
      fetch(`${fx.url}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: fx.url },
        body: new URLSearchParams({ key }),
      });
    // Ten wrong keys (the quota:write sign-in above, when it ran, was already one failure from this address).
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await post(`qck_wrong_${i}_aaaaaaaaaaaaaaaaaaaa`)).status);
    const firstLimited = statuses.indexOf(429);
    expect(firstLimited === -1 ? statuses : statuses.slice(0, firstLimited)).toEqual(
      Array(firstLimited === -1 ? 10 : firstLimited).fill(401),
    );
    if (firstLimited !== -1) expect(new Set(statuses.slice(firstLimited))).toEqual(new Set([429]));
    expect(firstLimited === -1 || firstLimited >= 9).toBe(true);
    const limited = await post(fx.keys.lead);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('set-cookie')).toBeNull();
    const body = await limited.text();
    expect(body).not.toContain(fx.keys.lead);
    // No key or cookie value ever reaches the server's log.
    expect(fx.log()).not.toContain(fx.keys.lead.slice(4));
  });
});
