/**
 * Signup anchors on every engine (this ran on SQLite only): a subject's
 * monthly period starts on its own anniversary, clamped to the end of
 * shorter months, and rolls over with no reset job.
 */
import { expect, it } from 'vitest';
import { at, contract } from './engines.js';

const F = 'stock_reports';

contract('signup-anchor rollover', ({ useStore }) => {
  const ctx = useStore({ period: { every: 'month', anchor: 'signup', timeZone: 'UTC' } });

  it('rolls a Jan 31 subject over on Feb 28 and then on Mar 31', async () => {
    const { qc } = ctx;
    await qc.addSubject(
      { id: 'anniv', anchor: '2027-01-31T09:00:00Z' },
      { now: at('2027-01-31T09:00:00Z') },
    );
    await qc.consume('anniv', F, 10, { now: at('2027-02-27T00:00:00Z') });
    expect(await qc.consume('anniv', F, 1, { now: at('2027-02-28T08:59:59Z') })).toMatchObject({
      granted: false,
    });
    expect(await qc.consume('anniv', F, 10, { now: at('2027-02-28T09:00:00Z') })).toMatchObject({
      granted: true,
      period: { start: '2027-02-28T09:00:00.000Z', end: '2027-03-31T09:00:00.000Z' },
    });
    expect(await qc.consume('anniv', F, 1, { now: at('2027-03-31T09:00:00Z') })).toMatchObject({
      granted: true,
      used: 1,
      period: { start: '2027-03-31T09:00:00.000Z' },
    });
  });

  it('keeps each anniversary period in the history with its own usage', async () => {
    const { qc } = ctx;
    await qc.addSubject(
      { id: 'anniv-h', anchor: '2027-01-31T09:00:00Z' },
      { now: at('2027-01-31T09:00:00Z') },
    );
    await qc.consume('anniv-h', F, 3, { now: at('2027-02-10T00:00:00Z') });
    await qc.consume('anniv-h', F, 2, { now: at('2027-03-01T00:00:00Z') });
    const h = await qc.history('anniv-h');
    expect(h.map((e) => [e.start, e.end, e.features[F]?.used])).toEqual([
      ['2027-02-28T09:00:00.000Z', '2027-03-31T09:00:00.000Z', 2],
      ['2027-01-31T09:00:00.000Z', '2027-02-28T09:00:00.000Z', 3],
    ]);
  });
});
