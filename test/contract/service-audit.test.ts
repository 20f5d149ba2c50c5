import { expect, it } from 'vitest';
import type { AuditEntry } from '../../src/core/admin-types.js';
import { at, contract } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

contract('audit log', ({ useStore }) => {
  const ctx = useStore();

  const entriesFor = async (subject: string): Promise<AuditEntry[]> =>
    (await ctx.qc.audit.list({ subject, limit: 100 })).items as AuditEntry[];

  it('records every admin write with actor, time, before and after, newest first', async () => {
    const { qc } = ctx;
    const web = { actor: 'web-admin' };
    await qc.addSubject({ id: 'aud-1', plan: 'free', email: 'a1@example.com' }, { now: NOV }, web);
    await qc.setPlan('aud-1', 'pro', { now: NOV + 1000 }, web);
    await qc.setOverride('aud-1', 'exports', 7, { now: NOV + 2000 });
    await qc.suspend('aud-1', 'chargeback', { now: NOV + 3000 }, web);
    await qc.unsuspend('aud-1', { now: NOV + 4000 }, web);
    await qc.updateSubject('aud-1', { email: 'new@example.com', displayName: 'Ann' }, web, {
      now: NOV + 5000,
    });
    await qc.consume('aud-1', 'stock_reports', 3, { now: NOV + 5500 });
    await qc.resetSubject('aud-1', { now: NOV + 6000, reason: 'support ticket 42' }, web);

    const got = await entriesFor('aud-1');
    expect(got.map((e) => e.action)).toEqual([
      'subject.reset',
      'subject.update',
      'subject.unsuspend',
      'subject.suspend',
      'override.set',
      'plan.set',
      'subject.create',
    ]);
    const [reset, update, unsuspend, suspend, override, plan, create] = got as [
      AuditEntry,
      AuditEntry,
      AuditEntry,
      AuditEntry,
      AuditEntry,
      AuditEntry,
      AuditEntry,
    ];
    expect(create).toMatchObject({
      actor: 'web-admin',
      at: iso(NOV),
      subject: 'aud-1',
      before: null,
    });
    expect(create.after).toMatchObject({ id: 'aud-1', plan: 'free', email: 'a1@example.com' });
    expect(plan).toMatchObject({
      at: iso(NOV + 1000),
      before: { plan: 'free' },
      after: { plan: 'pro' },
    });
    // Without an actor, the facade records the CLI.
    expect(override).toMatchObject({
      actor: 'cli',
      before: { overrides: {} },
      after: { overrides: { exports: 7 } },
    });
    expect(suspend).toMatchObject({
      before: { suspended: false, suspendedReason: null },
      after: { suspended: true, suspendedReason: 'chargeback' },
    });
    expect(unsuspend).toMatchObject({
      before: { suspended: true, suspendedReason: 'chargeback' },
      after: { suspended: false, suspendedReason: null },
    });
    expect(update).toMatchObject({
      before: { email: 'a1@example.com', name: null },
      after: { email: 'new@example.com', name: 'Ann' },
    });
    expect(reset).toMatchObject({
      actor: 'web-admin',
      reason: 'support ticket 42',
      before: { period: '2026-11', used: { stock_reports: 3 } },
      after: { period: '2026-11', used: { stock_reports: 0 } },
    });
    // Ids are unique and entries newest first.
    expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
    const times = got.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('an admin refund is audited with actor, time and before/after; a plain refund is not', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'aud-refund', plan: 'free' }, { now: NOV });
    await qc.consume('aud-refund', 'stock_reports', 2, { key: 'r-admin', now: NOV + 1000 });
    await qc.consume('aud-refund', 'stock_reports', 1, { key: 'r-api', now: NOV + 2000 });
    // /v1/refund's path: no actor, so no audit entry (API.md lists no refund among admin writes).
    await qc.refund('aud-refund', 'r-api', { now: NOV + 3000 });
    const support = { actor: 'support-lead', reason: 'double charge' };
    const result = await qc.refund('aud-refund', 'r-admin', { now: NOV + 4000 }, support);
    expect(result).toMatchObject({ refunded: true, amount: 2, used: 0 });
    // Refunding again changes nothing, so it records nothing.
    const again = await qc.refund('aud-refund', 'r-admin', { now: NOV + 5000 }, support);
    expect(again).toMatchObject({ refunded: false, alreadyRefunded: true });

    const got = await entriesFor('aud-refund');
    expect(got.map((e) => e.action)).toEqual(['event.refund', 'subject.create']);
    expect(got[0]).toMatchObject({
      actor: 'support-lead',
      reason: 'double charge',
      at: iso(NOV + 4000),
      subject: 'aud-refund',
      before: { key: 'r-admin', period: '2026-11', used: { stock_reports: 2 } },
      after: { key: 'r-admin', period: '2026-11', used: { stock_reports: 0 } },
    });
    expect((await qc.status('aud-refund', { now: NOV + 6000 })).features.stock_reports?.used).toBe(
      0,
    );
  });

  it('a refused write records nothing', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'aud-2' }, { now: NOV });
    const before = (await entriesFor('aud-2')).length;
    await expect(qc.setPlan('aud-2', 'nope', { now: NOV })).rejects.toMatchObject({
      code: 'UNKNOWN_PLAN',
    });
    await expect(qc.setPlan('missing-subject', 'pro', { now: NOV })).rejects.toMatchObject({
      code: 'SUBJECT_NOT_FOUND',
    });
    await expect(qc.updateSubject('aud-2', { email: 'not an email' })).rejects.toMatchObject({
      where: 'email',
    });
    await expect(qc.updateSubject('aud-2', { timeZone: 'Asia/Tokyo' })).rejects.toMatchObject({
      where: 'timeZone',
    });
    await expect(qc.addSubject({ id: 'aud-2' }, { now: NOV })).rejects.toMatchObject({
      code: 'SUBJECT_EXISTS',
    });
    expect((await entriesFor('aud-2')).length).toBe(before);
    expect(await entriesFor('missing-subject')).toEqual([]);
    expect((await qc.getSubject('aud-2')).plan).toBe('free');
  });

  it('pages by keyset and filters by actor and subject', async () => {
    const { qc } = ctx;
    for (let i = 0; i < 7; i += 1) {
      await qc.addSubject({ id: `aud-page-${i}` }, { now: NOV + i }, { actor: 'pager' });
    }
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await qc.audit.list({ actor: 'pager', limit: 3, ...(after ? { after } : {}) });
      expect(page.items.every((e) => e.actor === 'pager')).toBe(true);
      seen.push(...page.items.map((e) => e.subject!));
      after = page.next;
      pages += 1;
    } while (after !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `aud-page-${6 - i}`));
    const one = await qc.audit.list({ subject: 'aud-page-3', actor: 'pager' });
    expect(one.items.map((e) => e.subject)).toEqual(['aud-page-3']);
    expect(one.next).toBeNull();
    await expect(qc.audit.list({ after: 'garbage!' })).rejects.toMatchObject({ where: 'after' });
  });

  it('key create and revoke are in the log, without the key', async () => {
    const { qc } = ctx;
    const k = await qc.keys.create({ name: 'ops', scopes: ['admin:write'] }, { actor: 'root-key' });
    await qc.keys.revoke(k.id);
    const page = await qc.audit.list({ limit: 5 });
    const [revoke, create] = page.items;
    expect(revoke).toMatchObject({ action: 'key.revoke', actor: 'cli' });
    expect(create).toMatchObject({ action: 'key.create', actor: 'root-key', before: null });
    expect(create!.after).toMatchObject({ id: k.id, name: 'ops', prefix: k.prefix });
    expect(JSON.stringify(page)).not.toContain(k.key);
  });
});
