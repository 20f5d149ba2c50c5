import { describe, expect, it } from 'vitest';
import { QuotaPolicy } from '../../src/core/policy.js';
import { atLimitIds, refundOf, subjectResetAudit } from '../../src/store/sql/usage-rules.js';

const policy = new QuotaPolicy({
  plans: { free: { limits: { stock_reports: 10 } }, ent: { limits: { stock_reports: null } } },
  defaultPlan: 'free',
  period: { every: 'month', anchor: 'calendar', timeZone: 'UTC' },
  autoCreateSubjects: true,
  retentionPeriods: 3,
});
const period = {
  key: '2026-11',
  start: '2026-11-01T00:00:00.000Z',
  end: '2026-12-01T00:00:00.000Z',
};
const consume = { id: 7, feature: 'stock_reports', period_start_ms: 1, period_end_ms: 2, delta: 3 };

describe('usage rules', () => {
  it('a refund gives the units back, never below zero, and records one event', () => {
    const r = refundOf(consume, 'k1', 2, false, period, 99);
    expect(r.result).toEqual({ refunded: true, amount: 2, used: 0, period });
    expect(r.write).toEqual({
      used: 0,
      event: {
        kind: 'refund',
        feature: 'stock_reports',
        start: 1,
        end: 2,
        at: 99,
        amount: 3,
        delta: -2,
        usedAfter: 0,
        key: 'refund:k1',
        meta: '{"refunds":7}',
      },
    });
  });

  it('a denied or already refunded consume writes nothing', () => {
    expect(refundOf({ ...consume, delta: 0 }, 'k', 5, false, period, 1)).toEqual({
      result: { refunded: false, amount: 0, used: 5, period },
      write: null,
    });
    expect(refundOf(consume, 'k', 5, true, period, 1).result).toMatchObject({
      refunded: false,
      alreadyRefunded: true,
    });
  });

  it('lists each subject at its limit once, up to max, skipping unknown plans and unlimited', () => {
    const row = (id: string, plan: string, used: number, overrides = '{}') => ({
      id,
      plan,
      overrides,
      feature: 'stock_reports',
      used,
    });
    const rows = [
      row('a', 'free', 10),
      row('a', 'free', 12),
      row('b', 'ent', 1000),
      row('c', 'gone', 99),
      row('d', 'free', 4, '{"stock_reports":4}'),
      row('e', 'free', 11),
    ];
    expect(atLimitIds(policy, rows, 10)).toEqual(['a', 'd', 'e']);
    expect(atLimitIds(policy, rows, 2)).toEqual(['a', 'd']);
  });

  it('a reason goes on the reset’s actor', () => {
    const a = subjectResetAudit(
      'u1',
      '2026-11',
      { stock_reports: 4 },
      'support',
      'op-1',
      undefined,
    );
    expect(a.actor).toMatchObject({ reason: 'support' });
    expect(a.draft).toMatchObject({
      action: 'subject.reset',
      subject: 'u1',
      detail: {
        period: '2026-11',
        cleared: { stock_reports: 4 },
        reason: 'support',
        operation: 'op-1',
      },
    });
    expect(
      subjectResetAudit('u1', '2026-11', {}, undefined, undefined, undefined).actor,
    ).toBeUndefined();
  });
});
