import { describe, expect, it } from 'vitest';
import type { RunCheckpoint, RunRecord, RunStatus } from '../../src/store/quota-store.js';
import {
  advanceCheckpoint,
  checkpointOnBegin,
  finishedRunTotals,
  pendingWork,
  unfinishedPeriodsFor,
  usageAfterClose,
} from '../../src/store/shared/ledger-rules.js';

const run = (key: string, status: RunStatus, used = 0): RunRecord => ({
  key,
  status,
  startedAt: '2026-12-02T00:00:00.000Z',
  finishedAt: null,
  attempts: 1,
  holder: null,
  periodStart: '2026-10-01T00:00:00.000Z',
  periodEnd: '2026-11-01T00:00:00.000Z',
  checkpoint: {
    cursor: null,
    subjects: 2,
    summary: { free: { stock_reports: { subjects: 2, used, atLimit: 0 } } },
  },
  error: null,
});

describe('ledger rules', () => {
  it('an unfinished run is pending work even with nothing open, oldest key first', () => {
    const unfinished = unfinishedPeriodsFor([
      run('2026-09', 'closed'),
      run('2026-10', 'running'),
      run('2026-08', 'failed'),
    ]);
    expect([...unfinished.keys()]).toEqual(['2026-10', '2026-08']);
    const open = [
      { key: '2026-11', subjects: 5, startMs: Date.parse('2026-11-01T00:00:00Z'), endMs: 0 },
    ];
    expect(pendingWork(open, unfinished).map((p) => [p.key, p.subjects])).toEqual([
      ['2026-08', 0],
      ['2026-10', 0],
      ['2026-11', 5],
    ]);
    // A key the store still has open keeps its own count.
    const both = [{ ...open[0]!, key: '2026-10' }];
    expect(pendingWork(both, unfinished).map((p) => [p.key, p.subjects])).toEqual([
      ['2026-08', 0],
      ['2026-10', 5],
    ]);
  });

  it('shard rows belong to their own worker; a period row to every closer', () => {
    const runs = [
      run('2026-10#shard-0-of-2', 'running'),
      run('2026-11#shard-1-of-2', 'running'),
      run('2026-09', 'running'),
    ];
    expect([...unfinishedPeriodsFor(runs).keys()]).toEqual(['2026-09']);
    expect([...unfinishedPeriodsFor(runs, { index: 0, count: 2 }).keys()]).toEqual([
      '2026-10',
      '2026-09',
    ]);
  });

  it('a resumed run reports the ledger totals, a fresh one its own passes', () => {
    const ledger = run('2026-10', 'closed', 7).checkpoint;
    const passes = { subjects: 1, summary: {} };
    expect(finishedRunTotals(true, ledger, passes)).toEqual({
      subjects: 2,
      summary: ledger.summary,
    });
    expect(finishedRunTotals(false, ledger, passes)).toBe(passes);
  });

  it('reports closed usage that grew after the close, and only growth on finished runs', () => {
    const runs = [run('2026-10', 'closed', 7), run('2026-11', 'running', 1)];
    expect(
      usageAfterClose(runs, [
        { key: '2026-10', feature: 'stock_reports', used: 7 },
        { key: '2026-11', feature: 'stock_reports', used: 9 },
      ]),
    ).toEqual([]);
    expect(usageAfterClose(runs, [{ key: '2026-10', feature: 'stock_reports', used: 4 }])).toEqual(
      [],
    );
    expect(
      usageAfterClose(runs, [{ key: '2026-10', feature: 'stock_reports', used: 10 }]),
    ).toMatchObject([
      {
        kind: 'usage_after_close',
        message: expect.stringMatching(/^period 2026-10: 3 stock_reports/),
      },
    ]);
  });
});

describe('checkpoint rules', () => {
  const cp: RunCheckpoint = {
    cursor: '40',
    subjects: 2,
    summary: { free: { stock_reports: { subjects: 2, used: 7, atLimit: 1 } } },
  };

  it('a killed or failed run resumes at its cursor; a finished one starts a fresh pass', () => {
    expect(checkpointOnBegin('running', cp)).toEqual(cp);
    expect(checkpointOnBegin('failed', cp)).toEqual(cp);
    expect(checkpointOnBegin('closed', cp)).toEqual({ ...cp, cursor: null });
    expect(checkpointOnBegin('partial', cp)).toEqual({ ...cp, cursor: null });
  });

  it('a step adds its subjects and totals and moves the cursor, changing neither input', () => {
    const step = {
      cursor: '80',
      closed: 3,
      summary: {
        free: { stock_reports: { subjects: 3, used: 4, atLimit: 0 } },
        pro: { stock_reports: { subjects: 1, used: 45, atLimit: 1 } },
      },
    };
    const before = structuredClone(cp);
    const stepBefore = structuredClone(step);
    expect(advanceCheckpoint(cp, step)).toEqual({
      cursor: '80',
      subjects: 5,
      summary: {
        free: { stock_reports: { subjects: 5, used: 11, atLimit: 1 } },
        pro: { stock_reports: { subjects: 1, used: 45, atLimit: 1 } },
      },
    });
    expect(cp).toEqual(before);
    expect(step).toEqual(stepBefore);
  });

  it('a step without a cursor keeps the one there; a null cursor ends the pass', () => {
    expect(advanceCheckpoint(cp, { closed: 0, summary: {} }).cursor).toBe('40');
    expect(advanceCheckpoint(cp, { cursor: null, closed: 0, summary: {} }).cursor).toBeNull();
  });
});
