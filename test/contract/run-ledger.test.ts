/**
 * The run ledger on every engine, called directly: a run starts, records
 * each batch's checkpoint, fails, shows among the unfinished runs, resumes
 * where it stopped, finishes with every subject counted once, and starts a
 * fresh pass when its key has work again.
 */
import { describe, expect, it } from 'vitest';
import type { RunCheckpoint } from '../../src/store/quota-store.js';
import { at, contract } from './engines.js';

const F = 'stock_reports';
const OCT = { startMs: at('2026-10-01T00:00:00Z'), endMs: at('2026-11-01T00:00:00Z') };
const IN_OCT = at('2026-10-15T00:00:00Z');
const NOV = at('2026-11-10T12:00:00Z');

contract('run ledger', ({ useStore }) => {
  describe('start, checkpoint, fail, resume, finish', () => {
    const ctx = useStore();

    it('resumes a failed run at its checkpoint and counts each subject once', async () => {
      const { qc, store } = ctx;
      for (const [id, n] of [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ] as const)
        await qc.consume(id, F, n, { now: IN_OCT });
      expect(await store.getRun('2026-10')).toBeNull();

      const started = await store.beginRun('2026-10', 'host-a', NOV, OCT);
      expect(started).toMatchObject({
        key: '2026-10',
        status: 'running',
        attempts: 1,
        holder: 'host-a',
        startedAt: new Date(NOV).toISOString(),
        finishedAt: null,
        periodStart: '2026-10-01T00:00:00.000Z',
        periodEnd: '2026-11-01T00:00:00.000Z',
        checkpoint: { cursor: null, subjects: 0, summary: {} },
        error: null,
      });

      const first = await store.closeBatch({
        key: '2026-10',
        nowMs: NOV,
        cursor: null,
        batchSize: 1,
        write: true,
      });
      expect(first.closed).toBe(1);
      expect(first.cursor).not.toBeNull();
      const afterBatch = await store.getRun('2026-10');
      expect(afterBatch!.checkpoint).toMatchObject({ cursor: first.cursor, subjects: 1 });

      const failed = await store.finishRun('2026-10', 'failed', NOV + 1000, 'killed');
      expect(failed).toMatchObject({
        status: 'failed',
        error: 'killed',
        finishedAt: new Date(NOV + 1000).toISOString(),
      });
      expect((await store.unfinishedRuns()).map((r) => r.key)).toEqual(['2026-10']);

      const resumed = await store.beginRun('2026-10', 'host-b', NOV + 2000, OCT);
      expect(resumed).toMatchObject({
        status: 'running',
        attempts: 2,
        holder: 'host-b',
        finishedAt: null,
        error: null,
        checkpoint: { cursor: first.cursor, subjects: 1 },
      });

      let cursor = resumed.checkpoint.cursor;
      let rest = 0;
      do {
        const b = await store.closeBatch({
          key: '2026-10',
          nowMs: NOV + 3000,
          cursor,
          batchSize: 1,
          write: true,
        });
        rest += b.closed;
        cursor = b.cursor;
      } while (cursor !== null);
      expect(rest).toBe(2);

      const closed = await store.finishRun('2026-10', 'closed', NOV + 4000);
      expect(closed).toMatchObject({
        status: 'closed',
        error: null,
        finishedAt: new Date(NOV + 4000).toISOString(),
      });
      expect(closed.checkpoint.subjects).toBe(3);
      expect(closed.checkpoint.summary.free?.[F]).toMatchObject({ subjects: 3, used: 6 });
      expect(await store.getRun('2026-10')).toEqual(closed);
      expect(await store.unfinishedRuns()).toEqual([]);
    });

    it('starts a fresh pass on a finished key that has work again, keeping its totals', async () => {
      const { store } = ctx;
      const again = await store.beginRun('2026-10', 'host-c', NOV + 5000, OCT);
      expect(again).toMatchObject({ status: 'running', attempts: 3, holder: 'host-c' });
      expect(again.checkpoint).toMatchObject({ cursor: null, subjects: 3 });
      const done = await store.finishRun('2026-10', 'partial', NOV + 6000);
      expect(done).toMatchObject({ status: 'partial', checkpoint: { subjects: 3 } });
      // partial is finished: the rest of the period is for a later run, not a resume.
      expect(await store.unfinishedRuns()).toEqual([]);
    });
  });

  describe('the rows themselves', () => {
    const ctx = useStore();

    it('replaces the checkpoint when finishRun is given one', async () => {
      const { store } = ctx;
      await store.beginRun('2026-07', 'host-a', NOV, OCT);
      const merged: RunCheckpoint = {
        cursor: null,
        subjects: 7,
        summary: { free: { [F]: { subjects: 7, used: 12, atLimit: 1 } } },
      };
      const done = await store.finishRun('2026-07', 'closed', NOV + 1, undefined, merged);
      expect(done.checkpoint).toEqual(merged);
      expect((await store.getRun('2026-07'))!.checkpoint).toEqual(merged);
      // Without one, the checkpoint stays as it is.
      await store.beginRun('2026-07', 'host-a', NOV + 2, OCT);
      const kept = await store.finishRun('2026-07', 'closed', NOV + 3);
      expect(kept.checkpoint).toEqual(merged);
    });

    it('keeps the given checkpoint when a resumed run finishes with one', async () => {
      const { store } = ctx;
      await store.beginRun('2026-08', 'host-a', NOV, OCT);
      await store.finishRun('2026-08', 'failed', NOV + 1, 'killed');
      // A resumed run: a store that recounts its totals at the finish must still keep these.
      expect(await store.beginRun('2026-08', 'host-b', NOV + 2, OCT)).toMatchObject({
        attempts: 2,
      });
      const merged: RunCheckpoint = {
        cursor: null,
        subjects: 4,
        summary: { pro: { [F]: { subjects: 4, used: 30, atLimit: 0 } } },
      };
      const done = await store.finishRun('2026-08', 'closed', NOV + 3, undefined, merged);
      expect(done.checkpoint).toEqual(merged);
      expect((await store.getRun('2026-08'))!.checkpoint).toEqual(merged);
    });

    it('lists unfinished runs (running and failed) by key, and every run newest key first', async () => {
      const { store } = ctx;
      await store.beginRun('2026-03', 'h', NOV, OCT);
      await store.beginRun('2026-01', 'h', NOV, OCT);
      await store.beginRun('2026-02', 'h', NOV, OCT);
      await store.beginRun('2026-04', 'h', NOV, OCT);
      await store.finishRun('2026-02', 'failed', NOV, 'boom');
      await store.finishRun('2026-04', 'partial', NOV);
      const unfinished = await store.unfinishedRuns();
      expect(unfinished.map((r) => [r.key, r.status])).toEqual([
        ['2026-01', 'running'],
        ['2026-02', 'failed'],
        ['2026-03', 'running'],
      ]);
      expect((await store.listRuns(100)).map((r) => r.key)).toEqual([
        '2026-08',
        '2026-07',
        '2026-04',
        '2026-03',
        '2026-02',
        '2026-01',
      ]);
      expect((await store.listRuns(2)).map((r) => r.key)).toEqual(['2026-08', '2026-07']);
      // verify names each unfinished run, in the same words on every engine.
      const runViolations = (await store.verify(NOV)).filter((v) => v.kind === 'run_unfinished');
      expect(runViolations).toEqual([
        {
          kind: 'run_unfinished',
          subject: null,
          message: 'run 2026-01 is running (rerun "quotaclock reset" to finish it)',
        },
        {
          kind: 'run_unfinished',
          subject: null,
          message: 'run 2026-02 is failed: boom (rerun "quotaclock reset" to finish it)',
        },
        {
          kind: 'run_unfinished',
          subject: null,
          message: 'run 2026-03 is running (rerun "quotaclock reset" to finish it)',
        },
      ]);
    });

    it('widens the recorded period when a later attempt covers more', async () => {
      const { store } = ctx;
      await store.beginRun('2026-05', 'h', NOV, OCT);
      const wider = await store.beginRun('2026-05', 'h', NOV + 1, {
        startMs: OCT.startMs - 3_600_000,
        endMs: OCT.endMs + 3_600_000,
      });
      expect(wider).toMatchObject({
        periodStart: '2026-09-30T23:00:00.000Z',
        periodEnd: '2026-11-01T01:00:00.000Z',
      });
      const narrower = await store.beginRun('2026-05', 'h', NOV + 2, OCT);
      expect(narrower).toMatchObject({
        periodStart: '2026-09-30T23:00:00.000Z',
        periodEnd: '2026-11-01T01:00:00.000Z',
      });
    });
  });
});
