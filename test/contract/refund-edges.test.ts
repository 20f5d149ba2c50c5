/**
 * The refund edge cases on every engine (they ran on SQLite only, in
 * test/integration/sqlite-store.test.ts): a refunded unit frees room and a
 * second refund is a no-op, multi-unit amounts, a refund's own key, keys that
 * look like refund records, and a refund after a manual reset.
 */
import { expect, it } from 'vitest';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { at, contract, exportAll } from './engines.js';

const F = 'stock_reports';
const NOW = at('2026-11-15T12:00:00Z');
const NOV = {
  key: '2026-11',
  start: '2026-11-01T00:00:00.000Z',
  end: '2026-12-01T00:00:00.000Z',
};
/** What every answer at NOW adds to its period: the zone and the whole seconds left until it ends. */
const AT_NOW = { timeZone: 'UTC', secondsLeft: (Date.parse(NOV.end) - NOW) / 1000 };

/** Asserts that fn fails with a coded error and that nothing the store exports changed. */
async function refusedWithoutWrite(
  store: QuotaStore,
  fn: () => Promise<unknown>,
  code: string | RegExp,
  where?: string,
): Promise<void> {
  const before = await exportAll(store);
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${String(code)}`).toMatchObject({
    code: typeof code === 'string' ? code : expect.stringMatching(code),
  });
  if (where !== undefined) expect((caught as { where?: string }).where).toBe(where);
  expect(await exportAll(store)).toEqual(before);
}

async function integrityProblems(store: QuotaStore, subject: string, nowMs = NOW) {
  const violations = await store.verify(nowMs);
  return violations.filter(
    (v) => v.subject === subject && (v.kind === 'counter_mismatch' || v.kind === 'over_limit'),
  );
}

contract('refund edge cases', ({ useStore }) => {
  const ctx = useStore();

  it('gives the unit back, frees room under the limit, and a second refund is a no-op', async () => {
    const { qc, store } = ctx;
    for (let i = 1; i <= 10; i += 1) await qc.consume('ref', F, 1, { key: `gen-${i}`, now: NOW });
    expect((await qc.consume('ref', F, 1, { now: NOW })).granted).toBe(false);
    expect(await qc.refund('ref', 'gen-4', { now: NOW })).toEqual({
      refunded: true,
      amount: 1,
      used: 9,
      period: NOV,
      ...AT_NOW,
    });
    expect(await qc.consume('ref', F, 1, { now: NOW })).toMatchObject({ granted: true, used: 10 });
    const before = await exportAll(store);
    expect(await qc.refund('ref', 'gen-4', { now: NOW })).toEqual({
      refunded: false,
      amount: 0,
      used: 10,
      period: NOV,
      ...AT_NOW,
      alreadyRefunded: true,
    });
    expect(await exportAll(store)).toEqual(before);
    expect(await integrityProblems(store, 'ref')).toEqual([]);
  });

  it('refunds the whole amount of a multi-unit consume', async () => {
    const { qc } = ctx;
    await qc.consume('multi', F, 4, { key: 'batch', now: NOW });
    await qc.consume('multi', F, 1, { now: NOW });
    expect(await qc.refund('multi', 'batch', { now: NOW })).toMatchObject({
      refunded: true,
      amount: 4,
      used: 1,
    });
  });

  it('refuses an unknown key, another subject’s key and an unknown subject, and writes nothing', async () => {
    const { qc, store } = ctx;
    await qc.consume('rk', F, 1, { key: 'known', now: NOW });
    await refusedWithoutWrite(
      store,
      () => qc.refund('rk', 'unknown', { now: NOW }),
      'REFUND_KEY_NOT_FOUND',
      'key',
    );
    await qc.consume('rk2', F, 1, { key: 'theirs', now: NOW });
    await refusedWithoutWrite(
      store,
      () => qc.refund('rk', 'theirs', { now: NOW }),
      'REFUND_KEY_NOT_FOUND',
    );
    await refusedWithoutWrite(
      store,
      () => qc.refund('ghost', 'known', { now: NOW }),
      'SUBJECT_NOT_FOUND',
    );
  });

  it('never refunds a refund record (that would push usage over the limit)', async () => {
    const { qc, store } = ctx;
    for (let i = 1; i <= 10; i += 1) await qc.consume('rr', F, 1, { key: `k${i}`, now: NOW });
    await qc.refund('rr', 'k1', { now: NOW });
    expect((await qc.consume('rr', F, 1, { key: 'k11', now: NOW })).granted).toBe(true);
    await refusedWithoutWrite(
      store,
      () => qc.refund('rr', 'refund:k1', { now: NOW }),
      /^(BAD_INPUT|REFUND_KEY_NOT_FOUND)$/,
    );
    expect((await qc.status('rr', { now: NOW })).features[F]).toMatchObject({
      used: 10,
      remaining: 0,
    });
    expect(await integrityProblems(store, 'rr')).toEqual([]);
  });

  it('refuses consume keys that collide with the keys refunds are recorded under', async () => {
    const { qc, store } = ctx;
    await qc.consume('col', F, 1, { key: 'x', now: NOW });
    await qc.refund('col', 'x', { now: NOW });
    await refusedWithoutWrite(
      store,
      () => qc.consume('col', F, 1, { key: 'refund:x', now: NOW }),
      'BAD_INPUT',
      'key',
    );
    await refusedWithoutWrite(
      store,
      () => qc.consume('col', F, 1, { key: 'refund:y', now: NOW }),
      'BAD_INPUT',
      'key',
    );
    await qc.consume('col', F, 1, { key: 'y', now: NOW });
    expect(await qc.refund('col', 'y', { now: NOW })).toMatchObject({
      refunded: true,
      amount: 1,
      used: 0,
    });
  });

  it('never drives the counter below zero after a manual reset', async () => {
    const { qc, store } = ctx;
    await qc.consume('rz', F, 3, { key: 'three', now: NOW });
    await qc.resetSubject('rz', { now: NOW });
    const r = await qc.refund('rz', 'three', { now: NOW });
    expect(r.used).toBe(0);
    expect(r.amount).toBe(0);
    expect((await qc.status('rz', { now: NOW })).features[F]!.used).toBe(0);
    expect(await integrityProblems(store, 'rz')).toEqual([]);
  });
});
