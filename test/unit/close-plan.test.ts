import { describe, expect, it } from 'vitest';
import { QuotaPolicy } from '../../src/core/policy.js';
import {
  addPreviewSubject,
  closedTotals,
  closingLimits,
  moveGroups,
  nextRidCursor,
  ridAfter,
  subjectsOf,
  type CloseRow,
} from '../../src/store/sql/close-plan.js';
import type { PreviewBatchResult } from '../../src/store/quota-store.js';

const ms = (iso: string) => Date.parse(iso);

const policy = new QuotaPolicy({
  plans: {
    free: { limits: { stock_reports: 10, exports: 2 } },
    pro: { limits: { stock_reports: 45, exports: null } },
  },
  defaultPlan: 'free',
  period: { every: 'month', anchor: 'calendar', timeZone: 'UTC' },
  autoCreateSubjects: true,
  retentionPeriods: 3,
});

const oct = {
  closed_through_ms: ms('2026-10-01T00:00:00Z'),
  open_end_ms: ms('2026-11-01T00:00:00Z'),
  open_key: '2026-10',
};

const row = (
  rid: number,
  over: Partial<CloseRow> = {},
  feature: string | null = null,
  used: number | null = null,
): CloseRow => ({
  rid,
  plan: 'free',
  overrides: '{}',
  time_zone: null,
  anchor_ms: 0,
  ...oct,
  ...over,
  feature,
  used,
});

describe('close plan', () => {
  it('folds one row per counter into one entry per subject, in rid order', () => {
    const subjects = subjectsOf([
      row(1, {}, 'stock_reports', 4),
      row(1, {}, 'exports', 2),
      row(2),
      row(3, {}, 'stock_reports', null),
    ]);
    expect(subjects.map((u) => [u.head.rid, Object.fromEntries(u.used)])).toEqual([
      [1, { stock_reports: 4, exports: 2 }],
      [2, {}],
      [3, { stock_reports: 0 }],
    ]);
  });

  it('closes under the plan with overrides, and under no limits for an unknown plan', () => {
    expect(closingLimits(policy, { plan: 'free', overrides: '{"stock_reports":20}' })).toEqual({
      stock_reports: 20,
      exports: 2,
    });
    expect(closingLimits(policy, { plan: 'gone', overrides: '{}' })).toEqual({});
  });

  it('sums closed subjects per plan and feature, counting those at their limit', () => {
    const totals = closedTotals(
      policy,
      subjectsOf([
        row(1, {}, 'stock_reports', 10),
        row(2, {}, 'stock_reports', 3),
        row(3, { plan: 'pro' }, 'exports', 9),
      ]),
    );
    expect(totals).toEqual({
      free: {
        stock_reports: { subjects: 2, used: 13, atLimit: 1 },
        exports: { subjects: 2, used: 0, atLimit: 0 },
      },
      pro: {
        stock_reports: { subjects: 1, used: 0, atLimit: 0 },
        exports: { subjects: 1, used: 9, atLimit: 0 },
      },
    });
  });

  it('groups subjects that move identically, one group per period, plan and limits', () => {
    const groups = moveGroups(
      policy,
      subjectsOf([
        row(1),
        row(2, { plan: 'pro' }),
        row(3),
        row(4, { overrides: '{"exports":5}' }),
        row(5, {
          time_zone: 'Asia/Tokyo',
          closed_through_ms: ms('2026-09-30T15:00:00Z'),
          open_end_ms: ms('2026-10-31T15:00:00Z'),
        }),
      ]),
    );
    expect(groups.map((g) => [g.plan, g.rids])).toEqual([
      ['free', [1, 3]],
      ['pro', [2]],
      ['free', [4]],
      ['free', [5]],
    ]);
    const first = groups[0]!;
    expect(first).toMatchObject({
      fromStart: oct.closed_through_ms,
      fromEnd: oct.open_end_ms,
      key: '2026-10',
      toStart: ms('2026-11-01T00:00:00Z'),
      toEnd: ms('2026-12-01T00:00:00Z'),
      toKey: '2026-11',
      limits: '{"exports":2,"stock_reports":10}',
    });
    expect(first.usage.map((u) => u.head.rid)).toEqual([1, 3]);
    expect(JSON.parse(groups[2]!.limits)).toEqual({ stock_reports: 10, exports: 5 });
    expect(groups[3]).toMatchObject({ toKey: '2026-11', toEnd: ms('2026-11-30T15:00:00Z') });
  });

  it('pages by rid: a short page ends the pass', () => {
    expect(nextRidCursor([{ rid: 3 }, { rid: 9 }], 2)).toBe('9');
    expect(nextRidCursor([{ rid: 3 }], 2)).toBeNull();
    expect(nextRidCursor([], 2)).toBeNull();
    expect(ridAfter(null)).toBe(0);
    expect(ridAfter('9')).toBe(9);
  });

  it('previews every ended, unclosed period of a subject with its usage in each', () => {
    const byKey: PreviewBatchResult['byKey'] = {};
    const used: Record<number, number> = {
      [oct.closed_through_ms]: 4,
      [ms('2026-11-01T00:00:00Z')]: 10,
    };
    addPreviewSubject(policy, byKey, row(1), ms('2026-12-02T00:00:00Z'), (start, f) =>
      f === 'stock_reports' ? (used[start] ?? 0) : 0,
    );
    expect(Object.keys(byKey)).toEqual(['2026-10', '2026-11']);
    expect(byKey['2026-11']).toMatchObject({
      subjects: 1,
      startMs: ms('2026-11-01T00:00:00Z'),
      endMs: ms('2026-12-01T00:00:00Z'),
      summary: { free: { stock_reports: { subjects: 1, used: 10, atLimit: 1 } } },
    });
    expect(byKey['2026-10']!.summary.free!.stock_reports!.used).toBe(4);
  });
});
