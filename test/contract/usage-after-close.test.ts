/**
 * Issue 12, part 3: a reset whose --now runs ahead of the real clock is
 * refused (unless forced), and verify reports usage that lands in a period
 * after that period was closed, on every engine.
 */
import { describe, expect, it } from 'vitest';
import { runReset } from '../../src/jobs/reset.js';
import { at, contract } from './engines.js';

const NOV10 = at('2026-11-10T00:00:00Z');
const DEC2 = at('2026-12-02T00:00:00Z');
/** The wall clock these tests pretend it is. */
const DEC5 = at('2026-12-05T12:00:00Z');
const JAN2 = at('2027-01-02T00:00:00Z');
const wallClock = () => DEC5;

const afterClose = async (
  store: { verify(now: number): Promise<{ kind: string }[]> },
  now: number,
) => (await store.verify(now)).filter((v) => v.kind === 'usage_after_close');

contract('usage recorded after its period closed', ({ useStore }) => {
  describe('a consume that lands in a closed period', () => {
    const ctx = useStore();

    it('is reported by verify, and a refund there is not', async () => {
      const { qc, store } = ctx;
      await qc.importSubjects([{ id: 'u-a' }, { id: 'u-b', plan: 'pro' }], { now: NOV10 });
      await qc.consume('u-a', 'stock_reports', 3, { now: NOV10, key: 'k1' });
      await qc.consume('u-b', 'stock_reports', 5, { now: NOV10 });
      await runReset(qc, { now: DEC2 });
      expect(await store.verify(DEC2)).toEqual([]);

      // A refund reverses a consume in its own period, by design: not reported.
      await qc.refund('u-a', 'k1', { now: DEC2 });
      expect(await store.verify(DEC2)).toEqual([]);

      // A late consume, stamped in November, recorded after November closed.
      await qc.consume('u-b', 'exports', 2, { now: at('2026-11-30T23:59:00Z') });
      const found = await store.verify(DEC2);
      expect(found).toEqual([
        {
          kind: 'usage_after_close',
          subject: null,
          message: expect.stringContaining('period 2026-11: 2 exports recorded after'),
        },
      ]);
    });
  });

  describe('a reset with --now ahead of the wall clock', () => {
    const ctx = useStore();

    it('is refused, naming --now, with nothing written; forced, its later usage is reported', async () => {
      const { qc, store } = ctx;
      await qc.importSubjects([{ id: 'f-a' }, { id: 'f-b' }], { now: NOV10 });
      await qc.consume('f-a', 'stock_reports', 1, { now: at('2026-12-03T00:00:00Z') });
      const before = await store.listRuns();

      await expect(runReset(qc, { now: JAN2, wallClock })).rejects.toMatchObject({
        code: 'BAD_INPUT',
        where: '--now',
        message: expect.stringMatching(/2026-12 \(ends 2027-01-01T00:00:00\.000Z\).*--force/),
      });
      expect(await store.listRuns()).toEqual(before);
      expect((await store.pendingPeriods(JAN2)).map((p) => p.key)).toEqual(['2026-11']);
      // Closing what has really ended is not held back by a --now in the past.
      expect((await runReset(qc, { now: DEC2, wallClock })).periods.map((p) => p.key)).toEqual([
        '2026-11',
      ]);

      const forced = await runReset(qc, { now: JAN2, wallClock, force: true });
      expect(forced.periods.map((p) => [p.key, p.status])).toEqual([['2026-12', 'closed']]);
      expect(await afterClose(store, JAN2)).toEqual([]);
      // Back at the real time, usage lands in the December that was closed early.
      await qc.consume('f-b', 'stock_reports', 4, { now: DEC5 });
      expect(await afterClose(store, JAN2)).toEqual([
        expect.objectContaining({
          message: expect.stringContaining('period 2026-12: 4 stock_reports recorded after'),
        }),
      ]);
    });
  });
});
