/**
 * The support and operator stories (issue 16), in real Chromium against a
 * live `serve`, checked both on the page and in the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { newHolderId } from '../../src/jobs/lease.js';
import { available, launch, newContext, screenshot, signIn } from './browser.js';
import { startDashboard, type DashboardFixture } from './fixture.js';

/** Accept the confirmation the progressive script asks for before a write. */
function acceptConfirms(page: Page, seen: string[]): void {
  page.on('dialog', (d) => {
    seen.push(d.message());
    void d.accept();
  });
}

describe.skipIf(!available)('dashboard stories in Chromium', () => {
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

  it('support: find a user at her limit, see why, raise it with a reason, watch a check pass, find it in the audit log, revoke a key and end its session', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const confirms: string[] = [];
    acceptConfirms(page, confirms);

    // 1. Log in.
    await signIn(page, fx.url, fx.keys.lead);
    await expect.poll(() => page.locator('.side-foot strong').textContent()).toBe('support-lead');

    // 2. Find a user at their limit: search by email prefix, keyboard only ("/" jumps to the search box).
    await page.goto(`${fx.url}/admin/subjects`);
    await page.keyboard.press('/');
    await page.keyboard.type('ana.souza');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=ana\.souza/);
    const row = page.locator('tbody tr');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.first().textContent()).toContain('At limit');
    await row.first().getByRole('link', { name: 'ana' }).click();
    await page.waitForURL(`${fx.url}/admin/subjects/ana`);

    // 3. See why: the page says so, the bar is full, and a check is denied.
    expect(await page.locator('.flash.warn').textContent()).toContain(
      'has used all 10 units of the free plan',
    );
    expect(await page.locator('[data-feature="stock_reports"] .figures').textContent()).toMatch(
      /10\s*\/\s*10 used/,
    );
    await page.getByRole('button', { name: 'Try a check' }).click();
    await expect
      .poll(() => page.locator('#check-result').getAttribute('data-allowed'))
      .toBe('false');
    expect(await page.locator('#check-result').textContent()).toContain('quota_exceeded');

    // 4. Raise the limit with a reason, from the keyboard: open the disclosure, fill, submit, confirm.
    const reason = 'Bought 10 extra reports, ticket #4812';
    await page.locator('summary', { hasText: 'Override a limit' }).focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('New limit for stock_reports').focus();
    await page.keyboard.type('20');
    await page.keyboard.press('Tab');
    await page.keyboard.type(reason);
    await page.keyboard.press('Enter');
    await page.waitForURL(/done=override\.set/);
    expect(confirms).toEqual(['Override a limit of ana?']);
    expect(await page.locator('.flash.ok').textContent()).toContain('Limit overridden.');
    expect(await page.locator('[data-feature="stock_reports"] .figures').textContent()).toMatch(
      /10\s*\/\s*20 used/,
    );
    expect(await page.locator('[data-feature="stock_reports"] .remaining').textContent()).toContain(
      '10 remaining',
    );
    expect((await fx.qc.getSubject('ana')).overrides).toEqual({ stock_reports: 20 });

    // 5. Watch a check succeed, on the page and through the library on the same store.
    await page.getByRole('button', { name: 'Try a check' }).click();
    await expect
      .poll(() => page.locator('#check-result').getAttribute('data-allowed'))
      .toBe('true');
    expect((await fx.qc.check('ana', 'stock_reports')).allowed).toBe(true);
    await screenshot(page, 'story-subject-after-override');

    // 6. Find the change in the audit log, filtered by subject and then by actor.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Subject', { exact: true }).fill('ana');
    await page.getByRole('button', { name: 'Filter' }).click();
    const entry = page.locator('tr[data-action="override.set"]');
    await expect.poll(() => entry.count()).toBe(1);
    const text = (await entry.textContent())!;
    expect(text).toContain('support-lead');
    expect(text).toContain(reason);
    expect(text).toContain('20');
    await page.getByLabel('Subject', { exact: true }).fill('');
    await page.getByLabel('Actor', { exact: true }).fill('support-lead');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);

    // 7. Revoke a key and see the session using it end.
    const other = await newContext(browser);
    const contractor = await other.newPage();
    await signIn(contractor, fx.url, fx.keys.temp);
    await contractor.goto(`${fx.url}/admin/subjects`);
    expect(contractor.url()).toBe(`${fx.url}/admin/subjects`);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('button', { name: 'Revoke contractor' }).click();
    await page.waitForURL(/done=key\.revoke/);
    expect(await page.locator('tr', { hasText: 'contractor' }).textContent()).toContain('Revoked');
    await contractor.reload();
    expect(contractor.url()).toBe(`${fx.url}/admin/login`);
    // The revocation is in the audit log too.
    const revoked = await fx.qc.audit.list({ actor: 'support-lead' });
    expect(revoked.items.map((e) => e.action)).toContain('key.revoke');
    expect(ctx.cspErrors).toEqual([]);
    await other.close();
    await ctx.close();
  });

  it('support: refund an event from the ledger and find it in the audit log, with the actor and before/after', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const confirms: string[] = [];
    acceptConfirms(page, confirms);
    await signIn(page, fx.url, fx.keys.lead);
    await page.goto(`${fx.url}/admin/subjects/user_005`);
    const button = page.getByRole('button', { name: /^Refund event / }).first();
    const key = (await button.getAttribute('aria-label'))!.replace('Refund event ', '');
    const usedBefore = (await fx.qc.status('user_005')).features.stock_reports!.used;
    await button.click();
    await page.waitForURL(/done=event\.refund/);
    expect(confirms).toHaveLength(1);
    expect(await page.locator('.flash.ok').textContent()).toContain('Event refunded.');
    expect((await fx.qc.status('user_005')).features.stock_reports!.used).toBe(usedBefore - 1);

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Subject', { exact: true }).fill('user_005');
    await page.getByRole('button', { name: 'Filter' }).click();
    const entry = page.locator('tr[data-action="event.refund"]');
    await expect.poll(() => entry.count()).toBe(1);
    const text = (await entry.textContent())!;
    expect(text).toContain('support-lead');
    expect(text).toContain(key);
    const [stored] = (await fx.qc.audit.list({ subject: 'user_005' })).items;
    expect(stored).toMatchObject({
      actor: 'support-lead',
      action: 'event.refund',
      before: { key, used: { stock_reports: usedBefore } },
      after: { key, used: { stock_reports: usedBefore - 1 } },
    });
    expect(ctx.cspErrors).toEqual([]);
    await ctx.close();
  });

  it('without --trust-proxy, X-Forwarded-Proto is ignored: no Secure cookie on plain HTTP', async () => {
    const res = await fetch(`${fx.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Forwarded-Proto': 'https',
        Origin: fx.url,
      },
      body: new URLSearchParams({ key: fx.keys.lead }),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toContain('Max-Age=28800; HttpOnly; SameSite=Strict');
    expect(cookie).not.toContain('Secure');
  });

  it('keys: a created key is shown once, works, and is never shown again', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    page.on('dialog', (d) => void d.accept());
    await signIn(page, fx.url, fx.keys.lead);
    await page.goto(`${fx.url}/admin/keys`);
    await page.getByLabel('Name').fill('reporting');
    await page.getByLabel('quota:write').uncheck();
    await page.getByLabel('quota:read').check();
    const [res] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith('/admin/keys') && r.request().method() === 'POST',
      ),
      page.getByRole('button', { name: 'Create key' }).click(),
    ]);
    expect(res.status()).toBe(201);
    expect(res.headers()['cache-control']).toBe('no-store');
    const secret = (await page.locator('#new-key').textContent())!.trim();
    expect(secret).toMatch(/^qck_[A-Za-z0-9_-]{43,}$/);
    const info = await fx.qc.keys.authenticate(secret);
    expect(info).toMatchObject({ name: 'reporting', scopes: ['quota:read'] });
    await page.goto(`${fx.url}/admin/keys`);
    expect(await page.content()).not.toContain(secret);
    expect(await page.locator('tr', { hasText: 'reporting' }).textContent()).toContain(
      secret.slice(0, 12),
    );
    const audit = await fx.qc.audit.list({ actor: 'support-lead' });
    expect(JSON.stringify(audit.items)).not.toContain(secret);
    await ctx.close();
  });

  it('operator: a failed run shows in red, the dry-run preview writes nothing, run now closes it and it turns green', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const confirms: string[] = [];
    acceptConfirms(page, confirms);
    await signIn(page, fx.url, fx.keys.lead);
    await page.getByRole('link', { name: 'Runs', exact: true }).click();

    const run = page.locator('li.run', { hasText: '2026-10' });
    expect(await run.getAttribute('data-status')).toBe('failed');
    const red = await run.locator('.pill').evaluate((e) => getComputedStyle(e).color);
    expect(red).toBe('rgb(180, 35, 35)');
    expect(await run.locator('.error').textContent()).toContain('SQLITE_IOERR');

    const store = await fx.qc.store();
    const pendingBefore = await store.pendingPeriods(Date.parse('2026-11-24T15:00:00Z'));
    await page.getByRole('link', { name: 'Preview the next close' }).click();
    const preview = page.locator('#preview tbody tr', { hasText: '2026-10' });
    await expect.poll(() => preview.count()).toBe(1);
    // The preview's figures are what the real run will report (checked after "run now" below).
    const previewSubjects = Number(
      (await preview.locator('td').nth(1).textContent())!.replace(/\D/g, ''),
    );
    expect(previewSubjects).toBeGreaterThanOrEqual(
      pendingBefore.find((p) => p.key === '2026-10')!.subjects,
    );
    expect(await store.pendingPeriods(Date.parse('2026-11-24T15:00:00Z'))).toEqual(pendingBefore);
    expect((await store.getRun('2026-10'))!.status).toBe('failed');
    await screenshot(page, 'story-runs-preview');

    // While another process holds the close's lease, "run now" does nothing and says so.
    const other = newHolderId();
    expect(await store.acquireLease('reset', other, 60_000, Date.now())).not.toBeNull();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL(/done=run\.lease_held/);
    expect(await page.locator('.flash.warn').textContent()).toContain(
      'Another close holds the lease',
    );
    expect((await store.getRun('2026-10'))!.status).toBe('failed');
    await store.releaseLease('reset', other);

    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL(/done=run\.closed/);
    expect(confirms).toHaveLength(2);
    const after = page.locator('li.run', { hasText: '2026-10' });
    expect(await after.getAttribute('data-status')).toBe('closed');
    expect(await after.locator('.pill').evaluate((e) => getComputedStyle(e).color)).toBe(
      'rgb(22, 121, 74)',
    );
    expect((await store.getRun('2026-10'))!.status).toBe('closed');
    expect((await store.getRun('2026-10'))!.checkpoint.subjects).toBe(previewSubjects);
    expect(
      (await store.pendingPeriods(Date.parse('2026-11-24T15:00:00Z'))).map((p) => p.key),
    ).not.toContain('2026-10');
    await screenshot(page, 'story-runs-after');
    await ctx.close();
  });
});
