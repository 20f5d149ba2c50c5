import { describe, expect, it } from 'vitest';
import { violationsOf, type VerifyRows } from '../../src/store/sql/verify-rules.js';

const empty: VerifyRows = {
  unknownPlans: [],
  mismatches: [],
  overLimit: [],
  openPeriods: [],
  unfinishedRuns: [],
  runs: [],
  closedUsage: [],
};

describe('verify rules', () => {
  it('finds nothing in a clean store', () => {
    expect(violationsOf(empty)).toEqual([]);
  });

  it('turns each check’s rows into violations, check by check', () => {
    const start = Date.parse('2026-11-01T00:00:00Z');
    const out = violationsOf({
      ...empty,
      unfinishedRuns: [{ key: '2026-10', status: 'failed', error: 'boom' }],
      openPeriods: [{ id: 'u3', open_key: '2026-10', open_end_ms: start }],
      overLimit: [
        {
          id: 'u2',
          feature: 'stock_reports',
          period_start_ms: start,
          used_after: 11,
          limit_at: 10,
        },
      ],
      mismatches: [
        { id: 'u1', period_start_ms: start, feature: 'stock_reports', used: 3, total: 2 },
      ],
      unknownPlans: [{ id: 'u0', plan: 'gold' }],
    });
    expect(out).toEqual([
      { kind: 'unknown_plan', subject: 'u0', message: 'plan "gold" is not in the configuration' },
      {
        kind: 'counter_mismatch',
        subject: 'u1',
        message:
          'stock_reports in the period starting 2026-11-01T00:00:00.000Z: counter 3, events sum to 2',
      },
      {
        kind: 'over_limit',
        subject: 'u2',
        message:
          'stock_reports in the period starting 2026-11-01T00:00:00.000Z: a grant took usage to 11, over the limit 10 then in force',
      },
      {
        kind: 'open_period',
        subject: 'u3',
        message:
          'period 2026-10 ended 2026-11-01T00:00:00.000Z and is not closed (run "quotaclock reset")',
      },
      {
        kind: 'run_unfinished',
        subject: null,
        message: 'run 2026-10 is failed: boom (rerun "quotaclock reset" to finish it)',
      },
    ]);
  });

  it('reports usage recorded in a period after its run closed it', () => {
    const out = violationsOf({
      ...empty,
      runs: [
        {
          key: '2026-10',
          status: 'closed',
          startedAt: '2026-11-01T00:01:00.000Z',
          finishedAt: '2026-11-01T00:02:00.000Z',
          attempts: 1,
          holder: null,
          periodStart: '2026-10-01T00:00:00.000Z',
          periodEnd: '2026-11-01T00:00:00.000Z',
          checkpoint: {
            cursor: null,
            subjects: 1,
            summary: { free: { stock_reports: { subjects: 1, used: 4, atLimit: 0 } } },
          },
          error: null,
        },
      ],
      closedUsage: [{ key: '2026-10', feature: 'stock_reports', used: 6 }],
    });
    expect(out.map((v) => v.kind)).toEqual(['usage_after_close']);
    expect(out[0]!.message).toContain('2 stock_reports recorded after the period was closed');
  });
});
