import { expect, it } from 'vitest';
import { at, contract } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');
const pad = (i: number) => String(i).padStart(4, '0');

contract('admin reads: subject pages, search, event ledger', ({ useStore }) => {
  const ctx = useStore();

  it('a page deep in the list returns the right rows, and pages walk the whole list once', async () => {
    const { qc } = ctx;
    const rows = Array.from({ length: 600 }, (_, i) => ({
      id: `s-${pad(i)}`,
      plan: i % 3 === 0 ? 'pro' : 'free',
      email: `user${pad(599 - i)}@example.com`,
    }));
    await qc.importSubjects(rows, { now: NOV });
    const deep = await qc.listSubjects({ after: 's-0499', limit: 20 });
    expect(deep.items.map((s) => s.id)).toEqual(
      Array.from({ length: 20 }, (_, i) => `s-${pad(500 + i)}`),
    );
    expect(deep.next).toBe('s-0519');
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page = await qc.listSubjects({ limit: 97, ...(after ? { after } : {}) });
      seen.push(...page.items.map((s) => s.id));
      after = page.next;
    } while (after !== null);
    expect(seen).toEqual(rows.map((r) => r.id));
    const pro = await qc.listSubjects({ plan: 'pro', after: 's-0590', limit: 5 });
    expect(pro.items.map((s) => s.id)).toEqual(['s-0591', 's-0594', 's-0597']);
    expect(pro.next).toBeNull();
  });

  it('q is a prefix of the id or of the email, paged, without duplicates', async () => {
    const { qc } = ctx;
    const byId = await qc.listSubjects({ q: 's-012', limit: 100 });
    expect(byId.items.map((s) => s.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `s-${pad(120 + i)}`),
    );
    // user0012x@ → ids s-(599-120..129) = s-0470..s-0479, in id order.
    const byEmail = await qc.listSubjects({ q: 'user012', limit: 100 });
    expect(byEmail.items.map((s) => s.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `s-${pad(470 + i)}`),
    );
    // Paged: 4, 4, 2.
    const ids: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await qc.listSubjects({ q: 'user012', limit: 4, ...(after ? { after } : {}) });
      ids.push(...page.items.map((s) => s.id));
      after = page.next;
      pages += 1;
    } while (after !== null);
    expect(ids).toEqual(byEmail.items.map((s) => s.id));
    expect(pages).toBe(3);
    // One subject matching on both its id and its email appears once.
    await qc.addSubject({ id: 'both-1', email: 'both-1@example.com' }, { now: NOV });
    await qc.addSubject({ id: 'both-0', email: 'zz@example.com' }, { now: NOV });
    await qc.addSubject({ id: 'zz-both', email: 'both-2@example.com' }, { now: NOV });
    const both = await qc.listSubjects({ q: 'both-', limit: 10 });
    expect(both.items.map((s) => s.id)).toEqual(['both-0', 'both-1', 'zz-both']);
    // With a plan filter; and nothing for a prefix nobody has.
    const proEmail = await qc.listSubjects({ q: 'user012', plan: 'pro', limit: 100 });
    expect(proEmail.items.map((s) => s.id)).toEqual(['s-0471', 's-0474', 's-0477']);
    expect((await qc.listSubjects({ q: 'nobody' })).items).toEqual([]);
  });

  it('the event ledger: consumes (granted or not), refunds and resets, newest first, keyset paged', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'ledger', plan: 'free' }, { now: NOV });
    await qc.consume('ledger', 'exports', 1, { key: 'e1', meta: { ticker: 'AAPL' }, now: NOV + 1 });
    await qc.consume('ledger', 'exports', 1, { key: 'e2', now: NOV + 2 });
    await qc.consume('ledger', 'exports', 1, { key: 'e3', now: NOV + 3 }); // denied: limit 2
    await qc.refund('ledger', 'e2', { now: NOV + 4 });
    await qc.resetSubject('ledger', { now: NOV + 5, reason: 'goodwill' });
    const all = await qc.subjectEvents('ledger', { limit: 100 });
    expect(all.next).toBeNull();
    expect(all.items.map((e) => [e.kind, e.feature, e.key])).toEqual([
      ['reset', 'exports', null],
      ['refund', 'exports', 'refund:e2'],
      ['consume', 'exports', 'e3'],
      ['consume', 'exports', 'e2'],
      ['consume', 'exports', 'e1'],
    ]);
    const [reset, , denied, , first] = all.items;
    expect(first).toMatchObject({
      subject: 'ledger',
      amount: 1,
      granted: true,
      periodKey: '2026-11',
      at: new Date(NOV + 1).toISOString(),
      meta: { ticker: 'AAPL' },
    });
    expect(denied).toMatchObject({ granted: false, amount: 1 });
    expect(reset).toMatchObject({ amount: 1, periodKey: '2026-11' });
    const walked: string[] = [];
    let after: string | null = null;
    do {
      const page = await qc.subjectEvents('ledger', { limit: 2, ...(after ? { after } : {}) });
      walked.push(...page.items.map((e) => e.id));
      after = page.next;
    } while (after !== null);
    expect(walked).toEqual(all.items.map((e) => e.id));
    await expect(qc.subjectEvents('nobody-here')).rejects.toMatchObject({
      code: 'SUBJECT_NOT_FOUND',
    });
  });
});

contract('idempotency fingerprints', ({ useStore }) => {
  const ctx = useStore();

  const used = async (subject: string) =>
    (await ctx.qc.status(subject, { now: NOV })).features.stock_reports!.used;

  it('the same key and fingerprint replays; another fingerprint is refused and writes nothing', async () => {
    const { qc } = ctx;
    const first = await qc.consume('fp', 'stock_reports', 2, {
      key: 'k1',
      fingerprint: 'A',
      now: NOV,
    });
    expect(first).toMatchObject({ granted: true, used: 2 });
    const again = await qc.consume('fp', 'stock_reports', 2, {
      key: 'k1',
      fingerprint: 'A',
      now: NOV,
    });
    expect(again).toEqual({ ...first, replayed: true });
    await expect(
      qc.consume('fp', 'stock_reports', 3, { key: 'k1', fingerprint: 'B', now: NOV }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', where: 'key' });
    expect(await used('fp')).toBe(2);
    expect((await qc.subjectEvents('fp')).items).toHaveLength(1);
    // A caller that sends no fingerprint (the library, the CLI) gets the replay.
    expect(await qc.consume('fp', 'stock_reports', 2, { key: 'k1', now: NOV })).toMatchObject({
      replayed: true,
      used: 2,
    });
  });

  it('a denied first answer replays as denied, and is refused for another fingerprint', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'fp-full', plan: 'free' }, { now: NOV });
    const no = await qc.consume('fp-full', 'stock_reports', 11, {
      key: 'big',
      fingerprint: 'X',
      now: NOV,
    });
    expect(no).toMatchObject({ granted: false, reason: 'quota_exceeded' });
    expect(
      await qc.consume('fp-full', 'stock_reports', 11, { key: 'big', fingerprint: 'X', now: NOV }),
    ).toEqual({ ...no, replayed: true });
    await expect(
      qc.consume('fp-full', 'stock_reports', 1, { key: 'big', fingerprint: 'Y', now: NOV }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await used('fp-full')).toBe(0);
  });

  it('keys are scoped to the subject: the same key for another subject is a new consume', async () => {
    const { qc } = ctx;
    const a = await qc.consume('scope-a', 'stock_reports', 1, {
      key: 'shared',
      fingerprint: 'A',
      now: NOV,
    });
    const b = await qc.consume('scope-b', 'stock_reports', 1, {
      key: 'shared',
      fingerprint: 'B',
      now: NOV,
    });
    expect(a).toMatchObject({ granted: true, used: 1 });
    expect(b).toMatchObject({ granted: true, used: 1 });
    expect(b.replayed).toBeUndefined();
    expect(await used('scope-a')).toBe(1);
    expect(await used('scope-b')).toBe(1);
    await qc.refund('scope-a', 'shared', { now: NOV });
    expect(await used('scope-a')).toBe(0);
    expect(await used('scope-b')).toBe(1);
  });
});
