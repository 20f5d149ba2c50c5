/**
 * Reading one exported `userQuotas` document into an import row, by the
 * rules the Firestore store reads it (docs/migrating-from-python-scripts.md).
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/parse.js';
import { isLegacyDocument, readLegacyDocument } from '../../src/core/legacy-document.js';
import { policyFromConfig } from '../../src/quotaclock.js';

const policy = policyFromConfig(defaultConfig());
const DEC20 = Date.parse('2025-12-20T12:00:00Z');
const ts = (iso: string) => ({ $timestamp: iso });
const dec = {
  current_period_start: ts('2025-12-01T00:00:00Z'),
  current_period_end: ts('2025-12-31T23:59:59Z'),
};

const read = (doc: Record<string, unknown>) => readLegacyDocument(policy, doc, DEC20);

describe('an exported userQuotas document as an import row', () => {
  it('tells old documents from plain import rows', () => {
    expect(isLegacyDocument({ id: 'a', plan: 'pro' })).toBe(false);
    expect(isLegacyDocument({ user_uid: 'a', plan_type: 'pro' })).toBe(false);
    expect(isLegacyDocument({ user_uid: 'a', current_usage: {} })).toBe(true);
    expect(isLegacyDocument({ type: 'document', path: 'userQuotas/a', data: {} })).toBe(true);
    expect(isLegacyDocument({ type: 'footer', documents: 3 })).toBe(true);
  });

  it('stored limits that differ from the plan are overrides; -1 is unlimited; missing is 10', () => {
    expect(
      read({ user_uid: 'a', plan_type: 'free', quota_limits: { stock_reports_monthly: 25 } })
        .subject?.overrides,
    ).toEqual({ stock_reports: 25 });
    expect(
      read({ user_uid: 'a', plan_type: 'pro', quota_limits: { stock_reports_monthly: 45 } }).subject
        ?.overrides,
    ).toEqual({});
    expect(
      read({ user_uid: 'a', plan_type: 'pro', quota_limits: { stock_reports_monthly: -1 } }).subject
        ?.overrides,
    ).toEqual({ stock_reports: null });
    // A plan set without its limits: the old code enforced its default, 10.
    expect(read({ user_uid: 'a', plan_type: 'pro_plus' }).subject?.overrides).toEqual({
      stock_reports: 10,
    });
    // Written by quotaclock: its own map's overrides are the explicit ones.
    expect(
      read({
        user_uid: 'a',
        plan_type: 'pro',
        quota_limits: { stock_reports_monthly: 45 },
        quotaclock: { overrides: { stock_reports: 60 }, anchor: ts('2025-01-31T00:00:00Z') },
      }).subject,
    ).toMatchObject({ overrides: { stock_reports: 60 }, anchor: '2025-01-31T00:00:00.000Z' });
  });

  it('this month’s usage comes across; an ended month’s is left with a note', () => {
    expect(
      read({ user_uid: 'a', current_usage: { stock_reports: 4 }, ...dec }).subject?.usage,
    ).toEqual({ stock_reports: 4 });
    const nov = read({
      user_uid: 'a',
      current_usage: { stock_reports: 7 },
      current_period_start: ts('2025-11-01T00:00:00Z'),
    });
    expect(nov.subject?.usage).toBeUndefined();
    expect(nov.notes).toEqual([
      expect.stringMatching(/^current_usage: counts 2025-11, which has ended/),
    ]);
    // No period fields: last_reset places it.
    expect(
      read({
        user_uid: 'a',
        current_usage: { stock_reports: 2 },
        last_reset: { _seconds: Date.parse('2025-12-02T08:00:00Z') / 1000, _nanoseconds: 0 },
      }).subject?.usage,
    ).toEqual({ stock_reports: 2 });
    expect(() =>
      read({
        user_uid: 'a',
        current_usage: { stock_reports: 1 },
        current_period_start: ts('2026-02-01T00:00:00Z'),
      }),
    ).toThrow(
      /current_period_start: the document counts in 2026-02, after the import's current period 2025-12/,
    );
  });

  it('reads N/A, suspension and the display-name spellings as the old code wrote them', () => {
    expect(
      read({
        user_uid: 'a',
        user_email: 'N/A',
        user_displayName: 'Ada',
        is_suspended: true,
        suspension_reason: 'chargeback',
      }).subject,
    ).toMatchObject({ email: null, name: 'Ada', suspended: true, suspendedReason: 'chargeback' });
    expect(
      read({ user_uid: 'a', is_suspended: false, suspension_reason: 'old' }).subject,
    ).toMatchObject({
      suspended: false,
      suspendedReason: null,
    });
  });

  it('mistyped fields read as the old defaults, each with a note naming it', () => {
    const r = read({
      user_uid: 'g',
      plan_type: 7,
      quota_limits: 'unlimited',
      current_usage: { stock_reports: 'lots' },
      is_suspended: 'no',
      ...dec,
    });
    expect(r.subject).toMatchObject({ plan: 'free', overrides: {}, suspended: false });
    expect(r.subject?.usage).toBeUndefined();
    expect(r.notes).toEqual([
      'plan_type: 7 is not text; read as free',
      'is_suspended: "no" is not true or false; read as not suspended',
      'current_usage.stock_reports: "lots" is not a number; read as 0',
      'quota_limits: "unlimited" is not a map; read as the old default',
    ]);
  });

  it('refuses what it cannot read, naming the field', () => {
    expect(() => read({ user_uid: 'a', created_at: ts('soon') })).toThrow(
      'created_at: not a timestamp: {"$timestamp":"soon"}',
    );
    expect(() => read({ user_uid: 'a', plan_type: 'premium' })).toThrow(
      /^plan_type: unknown plan "premium"/,
    );
    expect(() => read({ user_uid: 'a', user_email: 'not-an-email' })).toThrow(
      'user_email: not an email address: "not-an-email"',
    );
    expect(() => read({ current_usage: {} })).toThrow(/^user_uid: missing/);
    expect(() => read({ user_uid: 'a', quota_limits: {}, plan: 'pro' })).toThrow(
      /^plan: not a field of the userQuotas layout/,
    );
  });

  it('takes the id from the export line’s path, and skips its header and footer', () => {
    expect(
      read({ type: 'document', path: 'userQuotas/u-no-uid', data: { plan_type: 'pro' } }).subject
        ?.id,
    ).toBe('u-no-uid');
    const odd = read({ type: 'document', path: 'userQuotas/a', data: { user_uid: 'b' } });
    expect([odd.subject?.id, odd.notes]).toEqual([
      'a',
      ['user_uid: "b" differs from the document id "a"; the document id is used'],
    ]);
    expect(read({ type: 'header', format: 'quotaclock-firestore-export' })).toEqual({
      subject: null,
      notes: [],
    });
  });
});
