import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { RESET_LEASE } from '../../src/jobs/lease.js';
import { contract } from '../contract/engines.js';
import { call } from '../helpers/serve.js';
import { useServe } from './serve-fixture.js';

// The HTTP close answers LEASE_HELD at once instead of waiting for the lease.
const dir = mkdtempSync(join(tmpdir(), 'qc-admin-'));
const config = join(dir, 'quotaclock.config.json');
writeFileSync(config, JSON.stringify({ reset: { waitForLeaseSeconds: 0 } }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Page<T> = { items: T[]; next: string | null };
type Subject = {
  id: string;
  plan: string;
  email: string | null;
  overrides: Record<string, number | null>;
};

contract('HTTP admin API /v1/admin', ({ engine }) => {
  const fx = useServe(engine, ['--config', config]);
  const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
    call<T>(`${fx.url}/v1/admin${path}`, {
      method,
      key: fx.keys.admin,
      ...(body === undefined ? {} : { body }),
    });

  it('plans, subject create (201), keyset pages, id and email prefix search, plan filter', async () => {
    const plans = await admin<Array<{ name: string }>>('GET', '/plans');
    expect(plans.body.map((p) => p.name)).toEqual(['free', 'pro', 'pro_plus', 'enterprise']);
    for (const [id, plan, email] of [
      ['acme-1', 'pro', 'ops@acme.test'],
      ['acme-2', 'free', 'billing@acme.test'],
      ['beta-1', 'pro', 'root@beta.test'],
      ['gamma', 'free', 'acme-fan@gamma.test'],
    ] as const) {
      const r = await admin('POST', '/subjects', { id, plan, email });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ id, plan, email });
    }
    expect((await admin('POST', '/subjects', { id: 'acme-1' })).body).toMatchObject({
      code: 'SUBJECT_EXISTS',
      status: 409,
    });
    const first = await admin<Page<Subject>>('GET', '/subjects?limit=2');
    expect(first.body.items.map((s) => s.id)).toEqual(['acme-1', 'acme-2']);
    const second = await admin<Page<Subject>>(
      'GET',
      `/subjects?limit=2&after=${encodeURIComponent(first.body.next!)}`,
    );
    expect(second.body.items.map((s) => s.id)).toEqual(['beta-1', 'gamma']);
    const acme = await admin<Page<Subject>>('GET', '/subjects?q=acme');
    expect(acme.body.items.map((s) => s.id).sort()).toEqual(['acme-1', 'acme-2', 'gamma']);
    const byEmail = await admin<Page<Subject>>('GET', '/subjects?q=root%40');
    expect(byEmail.body.items.map((s) => s.id)).toEqual(['beta-1']);
    const pro = await admin<Page<Subject>>('GET', '/subjects?plan=pro');
    expect(pro.body.items.map((s) => s.id)).toEqual(['acme-1', 'beta-1']);
    expect((await admin('GET', '/subjects?plan=platinum')).body).toMatchObject({
      code: 'UNKNOWN_PLAN',
    });
  });

  it('patch, suspend, unsuspend and reset with a reason, each audited with the key’s name and before/after', async () => {
    const patched = await admin<Subject>('PATCH', '/subjects/acme-2', {
      plan: 'pro_plus',
      overrides: { stock_reports: 7 },
      email: 'new@acme.test',
      reason: 'upgrade ticket 12',
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      plan: 'pro_plus',
      email: 'new@acme.test',
      overrides: { stock_reports: 7 },
    });
    const suspended = await admin('POST', '/subjects/acme-2/suspend', { reason: 'chargeback' });
    expect(suspended.body).toMatchObject({ suspended: true, suspendedReason: 'chargeback' });
    const denied = await call(`${fx.url}/v1/consume`, {
      key: fx.keys.writer,
      body: { subject: 'acme-2', feature: 'stock_reports' },
    });
    expect(denied.body).toMatchObject({ granted: false, reason: 'suspended' });
    expect((await admin('POST', '/subjects/acme-2/unsuspend')).body).toMatchObject({
      suspended: false,
    });
    await call(`${fx.url}/v1/consume`, {
      key: fx.keys.writer,
      body: { subject: 'acme-2', feature: 'stock_reports', amount: 3 },
    });
    const reset = await admin('POST', '/subjects/acme-2/reset', { reason: 'support ticket 4411' });
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ subject: 'acme-2', cleared: { stock_reports: 3 } });
    expect((await fx.qc.status('acme-2')).features.stock_reports!.used).toBe(0);
    const events = await admin<Page<{ kind: string }>>('GET', '/subjects/acme-2/events?limit=10');
    expect(events.body.items.map((e) => e.kind)).toEqual(['reset', 'consume', 'consume']);

    const audit = await admin<
      Page<{ actor: string; action: string; subject?: string; before: unknown; after: unknown }>
    >('GET', '/audit?limit=100');
    const mine = audit.body.items.filter((e) => e.subject === 'acme-2' && e.actor === 'admin');
    const actions = mine.map((e) => e.action);
    for (const a of [
      'subject.create',
      'plan.set',
      'override.set',
      'subject.update',
      'subject.suspend',
      'subject.unsuspend',
      'subject.reset',
    ])
      expect(actions).toContain(a);
    const plan = mine.find((e) => e.action === 'plan.set')!;
    expect(JSON.stringify(plan.before)).toContain('free');
    expect(JSON.stringify(plan.after)).toContain('pro_plus');
    // Keyset pages of the audit log.
    const page1 = await admin<Page<{ id: string }>>('GET', '/audit?limit=3');
    const page2 = await admin<Page<{ id: string }>>(
      'GET',
      `/audit?limit=3&after=${encodeURIComponent(page1.body.next!)}`,
    );
    expect(page2.body.items.map((e) => e.id)).not.toContain(page1.body.items[0]!.id);
  });

  it('the close: dry run, runs, LEASE_HELD while another holds the lease; verify and report', async () => {
    const dry = await admin('POST', '/reset', { dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true });
    const store = await fx.qc.store();
    const lease = await store.acquireLease(RESET_LEASE, 'another-host', 60_000, Date.now());
    expect(lease).not.toBeNull();
    try {
      const held = await admin('POST', '/reset', {});
      expect(held.status).toBe(409);
      expect(held.body).toMatchObject({ code: 'LEASE_HELD' });
    } finally {
      await store.releaseLease(RESET_LEASE, 'another-host');
    }
    const real = await admin('POST', '/reset', {});
    expect(real.status).toBe(200);
    expect(real.body).toMatchObject({ dryRun: false });
    expect((await admin('GET', '/runs')).status).toBe(200);
    expect((await admin('GET', '/runs/1999-01')).body).toMatchObject({ code: 'NOT_FOUND' });
    const verify = await call(`${fx.url}/v1/admin/verify`, {
      method: 'POST',
      key: fx.keys.auditor,
    });
    expect(verify.status).toBe(200);
    const report = await admin('GET', '/report');
    if (!store.periodUsage) {
      // An engine without the usage scan says so, as the CLI's report does (exit 1 there).
      expect(report.body).toMatchObject({ code: 'NOT_SUPPORTED', status: 501 });
      return;
    }
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ scope: { kind: 'period' } });
    const key = (report.body.scope as { key: string }).key;
    const named = await admin('GET', `/report?period=${key}`);
    expect(named.body).toMatchObject({ scope: { kind: 'period', key } });
  });

  it('keys: create 201 shows the key once, list never does, delete 204 stops it at once', async () => {
    const made = await admin<{ id: string; key: string; prefix: string; scopes: string[] }>(
      'POST',
      '/keys',
      {
        name: 'ci-bot',
        scopes: ['quota:read'],
      },
    );
    expect(made.status).toBe(201);
    expect(made.body.key).toMatch(/^qck_[A-Za-z0-9_-]{43,}$/);
    expect(made.body.key.startsWith(made.body.prefix)).toBe(true);
    const status = () => call(`${fx.url}/v1/subjects/acme-1`, { key: made.body.key });
    expect((await status()).status).toBe(200);
    const list = await admin<Array<Record<string, unknown>>>('GET', '/keys');
    expect(list.body.find((k) => k.id === made.body.id)).toMatchObject({
      name: 'ci-bot',
      revokedAt: null,
    });
    expect(list.text.includes(made.body.key.slice(4))).toBe(false);
    const del = await admin('DELETE', `/keys/${made.body.id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await status()).status).toBe(401);
    expect((await admin('DELETE', '/keys/key_doesnotexist')).status).toBe(404);
    const audit = await admin<Page<{ action: string; actor: string }>>(
      'GET',
      '/audit?actor=admin&limit=100',
    );
    expect(audit.body.items.map((e) => e.action)).toEqual(
      expect.arrayContaining(['key.create', 'key.revoke']),
    );
  });
});
