import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import {
  DEFAULT_PERIOD_RULE,
  PeriodCalculator,
  PeriodSchedule,
  localToEpochMs,
  parseInstant,
  toIso,
  type Period,
  type PeriodRule,
  type PeriodUnit,
} from '../../src/core/period.js';

const ms = (iso: string): number => {
  const v = Date.parse(iso);
  if (Number.isNaN(v)) throw new Error(`bad fixture instant ${iso}`);
  return v;
};

/** A period as ISO strings, so failures read like the spec. */
const show = (p: Period) => ({ key: p.key, start: toIso(p.startMs), end: toIso(p.endMs) });

const rule = (every: PeriodUnit, anchor: 'calendar' | 'signup', timeZone = 'UTC'): PeriodRule => ({
  every,
  anchor,
  timeZone,
});

const calendar = (every: PeriodUnit, timeZone: string) =>
  new PeriodSchedule(rule(every, 'calendar', timeZone), { timeZone: null, anchorMs: 0 });

const signup = (every: PeriodUnit, timeZone: string, anchorIso: string) =>
  new PeriodSchedule(rule(every, 'signup', 'UTC'), { timeZone, anchorMs: ms(anchorIso) });

/** The successive period starts of a schedule, walking forward from the period at `fromIso`. */
function startsFrom(s: PeriodSchedule, fromIso: string, count: number): string[] {
  const out: string[] = [];
  let p = s.at(ms(fromIso));
  for (let i = 0; i < count; i += 1) {
    out.push(toIso(p.startMs));
    p = s.after(p);
  }
  return out;
}

describe('localToEpochMs', () => {
  it.each([
    // [zone, local wall time, expected instant, why]
    ['UTC', '2026-11-01T00:00', '2026-11-01T00:00:00.000Z', 'plain UTC'],
    ['Asia/Kolkata', '2026-11-01T00:00', '2026-10-31T18:30:00.000Z', 'half-hour offset'],
    [
      'America/Asuncion',
      '2017-10-01T00:00',
      '2017-10-01T04:00:00.000Z',
      'midnight in a gap → 01:00-03',
    ],
    [
      'America/New_York',
      '2025-03-09T02:30',
      '2025-03-09T07:00:00.000Z',
      'gap → 03:00 EDT, not 03:30',
    ],
    [
      'America/New_York',
      '2025-03-09T02:00',
      '2025-03-09T07:00:00.000Z',
      'first instant of the gap',
    ],
    [
      'America/New_York',
      '2025-03-09T03:00',
      '2025-03-09T07:00:00.000Z',
      'first valid instant itself',
    ],
    ['America/New_York', '2025-11-02T01:30', '2025-11-02T05:30:00.000Z', 'overlap → earlier (EDT)'],
    [
      'America/New_York',
      '2025-11-02T01:00',
      '2025-11-02T05:00:00.000Z',
      'start of overlap → earlier',
    ],
    ['Europe/Berlin', '2025-10-26T02:30', '2025-10-26T00:30:00.000Z', 'overlap → earlier (CEST)'],
    ['Europe/Berlin', '2025-03-30T02:15', '2025-03-30T01:00:00.000Z', 'gap → 03:00 CEST'],
    [
      'Australia/Lord_Howe',
      '2025-10-05T02:15',
      '2025-10-04T15:30:00.000Z',
      '30-minute gap → 02:30+11',
    ],
    ['America/Havana', '2025-03-09T00:00', '2025-03-09T05:00:00.000Z', 'midnight gap → 01:00 CDT'],
    [
      'Pacific/Apia',
      '2011-12-30T00:00',
      '2011-12-30T10:00:00.000Z',
      'a whole skipped day → 12-31T00:00+14',
    ],
    [
      'Pacific/Apia',
      '2011-12-30T13:45',
      '2011-12-30T10:00:00.000Z',
      'mid-way through the skipped day',
    ],
  ])('%s %s → %s (%s)', (zone, local, expected) => {
    expect(toIso(localToEpochMs(Temporal.PlainDateTime.from(local), zone))).toBe(expected);
  });
});

describe('signup anchors: anchor + k × interval, counted from the anchor, clamped', () => {
  it('Jan 31 over a leap year: Feb 29, Mar 31, Apr 30, May 31, Jun 30', () => {
    expect(
      startsFrom(signup('month', 'UTC', '2024-01-31T10:00:00Z'), '2024-02-01T00:00:00Z', 6),
    ).toEqual([
      '2024-01-31T10:00:00.000Z',
      '2024-02-29T10:00:00.000Z',
      '2024-03-31T10:00:00.000Z',
      '2024-04-30T10:00:00.000Z',
      '2024-05-31T10:00:00.000Z',
      '2024-06-30T10:00:00.000Z',
    ]);
  });

  it('Jan 31 over a non-leap year: Feb 28, then Mar 31 (not Mar 28)', () => {
    expect(
      startsFrom(signup('month', 'UTC', '2025-01-31T10:00:00Z'), '2025-02-10T00:00:00Z', 4),
    ).toEqual([
      '2025-01-31T10:00:00.000Z',
      '2025-02-28T10:00:00.000Z',
      '2025-03-31T10:00:00.000Z',
      '2025-04-30T10:00:00.000Z',
    ]);
  });

  it('a 2024 Jan 31 anchor still lands on Feb 28 and then Mar 31 in 2025 (k = 13, 14)', () => {
    const s = signup('month', 'UTC', '2024-01-31T10:00:00Z');
    expect(show(s.at(ms('2025-03-15T00:00:00Z')))).toEqual({
      key: '2025-02',
      start: '2025-02-28T10:00:00.000Z',
      end: '2025-03-31T10:00:00.000Z',
    });
  });

  it('jumping straight to a far period (no walk from the anchor) gives the same boundaries', () => {
    const fresh = signup('month', 'UTC', '2024-01-31T10:00:00Z');
    const p = fresh.at(ms('2030-03-01T00:00:00Z'));
    expect(show(p)).toEqual({
      key: '2030-02',
      start: '2030-02-28T10:00:00.000Z',
      end: '2030-03-31T10:00:00.000Z',
    });
  });

  it('a Feb 29 yearly anchor clamps to Feb 28 and returns to Feb 29 in the next leap year', () => {
    expect(
      startsFrom(signup('year', 'UTC', '2024-02-29T12:00:00Z'), '2024-03-01T00:00:00Z', 5),
    ).toEqual([
      '2024-02-29T12:00:00.000Z',
      '2025-02-28T12:00:00.000Z',
      '2026-02-28T12:00:00.000Z',
      '2027-02-28T12:00:00.000Z',
      '2028-02-29T12:00:00.000Z',
    ]);
  });

  it('counts in the subject zone: Jan 31 23:30 New York is Feb 29 23:30 EST, then Mar 31 23:30 EDT', () => {
    // 2024-01-31T23:30-05:00 is 2024-02-01T04:30Z: in UTC the anchor would be Feb 1.
    expect(
      startsFrom(
        signup('month', 'America/New_York', '2024-02-01T04:30:00Z'),
        '2024-02-10T00:00:00Z',
        3,
      ),
    ).toEqual(['2024-02-01T04:30:00.000Z', '2024-03-01T04:30:00.000Z', '2024-04-01T03:30:00.000Z']);
  });

  it('a local anchor time that falls in a DST gap moves to 03:00 local (first valid instant), not 03:30', () => {
    // Signed up 2025-02-09 02:30 EST; 2025-03-09 02:30 does not exist in New York.
    const s = signup('month', 'America/New_York', '2025-02-09T07:30:00Z');
    const feb = s.at(ms('2025-02-20T00:00:00Z'));
    expect(show(feb)).toEqual({
      key: '2025-02',
      start: '2025-02-09T07:30:00.000Z',
      end: '2025-03-09T07:00:00.000Z',
    });
    expect(show(s.after(feb))).toEqual({
      key: '2025-03',
      start: '2025-03-09T07:00:00.000Z', // 03:00 EDT (03:30 EDT would be 07:30Z)
      end: '2025-04-09T06:30:00.000Z', // back to 02:30, now EDT
    });
  });

  it('a daily signup anchor at 02:30 New York starts the spring-forward day at 03:00 EDT', () => {
    const s = signup('day', 'America/New_York', '2025-03-01T07:30:00Z');
    expect(show(s.at(ms('2025-03-09T12:00:00Z')))).toEqual({
      key: '2025-03-09',
      start: '2025-03-09T07:00:00.000Z',
      end: '2025-03-10T06:30:00.000Z',
    });
  });

  it('an anchor time in a fall-back overlap takes the earlier instant in later periods', () => {
    // Signed up 2025-10-02 01:30 EDT; 2025-11-02 01:30 happens twice (EDT, then EST).
    const s = signup('month', 'America/New_York', '2025-10-02T05:30:00Z');
    const nov = s.after(s.at(ms('2025-10-10T00:00:00Z')));
    expect(show(nov)).toEqual({
      key: '2025-11',
      start: '2025-11-02T05:30:00.000Z', // 01:30 EDT (the later 01:30 EST would be 06:30Z)
      end: '2025-12-02T06:30:00.000Z',
    });
  });

  it('a signup instant inside the overlap itself: its period starts at the earlier 01:30', () => {
    // 2025-11-02T06:30Z is the second 01:30 (EST). Its local anchor time 01:30 is ambiguous.
    const s = signup('month', 'America/New_York', '2025-11-02T06:30:00Z');
    const first = s.at(ms('2025-11-02T06:30:00Z'));
    expect(show(first)).toEqual({
      key: '2025-11',
      start: '2025-11-02T05:30:00.000Z',
      end: '2025-12-02T06:30:00.000Z',
    });
    expect(s.at(ms('2025-11-02T05:30:00Z')).startMs).toBe(first.startMs);
    expect(s.at(ms('2025-11-02T05:29:59.999Z')).endMs).toBe(first.startMs);
  });

  it('a daily anchor time inside a skipped day: the period of that day runs from the gap to the next anchor time', () => {
    // Signed up 1995-01-05 06:00 in Kiritimati (+14); local 1994-12-31 never existed.
    const s = signup('day', 'Pacific/Kiritimati', '1995-01-04T16:00:00Z');
    const skipped = s.at(ms('1994-12-31T12:00:00Z'));
    expect(show(skipped)).toEqual({
      key: '1994-12-31',
      start: '1994-12-31T10:00:00.000Z',
      end: '1994-12-31T16:00:00.000Z',
    });
    expect(show(s.before(skipped))).toEqual({
      key: '1994-12-30',
      start: '1994-12-30T16:00:00.000Z',
      end: '1994-12-31T10:00:00.000Z',
    });
  });

  it('refuses an anchor that is not an instant', () => {
    expect(
      () => new PeriodSchedule(rule('month', 'signup'), { timeZone: null, anchorMs: Number.NaN }),
    ).toThrow(expect.objectContaining({ code: 'BAD_INPUT', where: 'anchor' }));
  });
});

describe('calendar months in UTC and other zones (exact instants)', () => {
  it.each([
    [
      'UTC',
      '2026-11-15T12:00:00Z',
      '2026-11',
      '2026-11-01T00:00:00.000Z',
      '2026-12-01T00:00:00.000Z',
    ],
    [
      'UTC',
      '2024-02-29T23:59:59.999Z',
      '2024-02',
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ],
    // New York: November 2026 starts in EDT (DST ends Nov 1 at 02:00) and ends in EST.
    [
      'America/New_York',
      '2026-11-15T12:00:00Z',
      '2026-11',
      '2026-11-01T04:00:00.000Z',
      '2026-12-01T05:00:00.000Z',
    ],
    [
      'America/New_York',
      '2026-03-15T12:00:00Z',
      '2026-03',
      '2026-03-01T05:00:00.000Z',
      '2026-04-01T04:00:00.000Z',
    ],
    // 2026-12-01T04:59:59.999Z is still 23:59:59.999 on Nov 30 in New York.
    [
      'America/New_York',
      '2026-12-01T04:59:59.999Z',
      '2026-11',
      '2026-11-01T04:00:00.000Z',
      '2026-12-01T05:00:00.000Z',
    ],
    [
      'Asia/Kolkata',
      '2026-11-15T12:00:00Z',
      '2026-11',
      '2026-10-31T18:30:00.000Z',
      '2026-11-30T18:30:00.000Z',
    ],
    // 2026-10-31T18:30Z is already Nov 1 in India.
    [
      'Asia/Kolkata',
      '2026-10-31T18:30:00Z',
      '2026-11',
      '2026-10-31T18:30:00.000Z',
      '2026-11-30T18:30:00.000Z',
    ],
    [
      'Asia/Kolkata',
      '2026-10-31T18:29:59.999Z',
      '2026-10',
      '2026-09-30T18:30:00.000Z',
      '2026-10-31T18:30:00.000Z',
    ],
    // Sydney: April 2026 starts in AEDT (+11) and ends in AEST (+10).
    [
      'Australia/Sydney',
      '2026-04-15T00:00:00Z',
      '2026-04',
      '2026-03-31T13:00:00.000Z',
      '2026-04-30T14:00:00.000Z',
    ],
    [
      'Australia/Sydney',
      '2026-10-15T00:00:00Z',
      '2026-10',
      '2026-09-30T14:00:00.000Z',
      '2026-10-31T13:00:00.000Z',
    ],
    // Chatham: +13:45 in summer, +12:45 in winter.
    [
      'Pacific/Chatham',
      '2026-01-15T00:00:00Z',
      '2026-01',
      '2025-12-31T10:15:00.000Z',
      '2026-01-31T10:15:00.000Z',
    ],
    [
      'Pacific/Chatham',
      '2026-06-15T00:00:00Z',
      '2026-06',
      '2026-05-31T11:15:00.000Z',
      '2026-06-30T11:15:00.000Z',
    ],
    [
      'Pacific/Chatham',
      '2026-04-15T00:00:00Z',
      '2026-04',
      '2026-03-31T10:15:00.000Z',
      '2026-04-30T11:15:00.000Z',
    ],
  ])('%s at %s is %s [%s, %s)', (zone, at, key, start, end) => {
    expect(show(calendar('month', zone).at(ms(at)))).toEqual({ key, start, end });
  });

  it('America/Asuncion October 2017: midnight did not exist, the month starts 01:00-03 = 04:00Z', () => {
    const s = calendar('month', 'America/Asuncion');
    const oct = s.at(ms('2017-10-15T12:00:00Z'));
    expect(show(oct)).toEqual({
      key: '2017-10',
      start: '2017-10-01T04:00:00.000Z',
      end: '2017-11-01T03:00:00.000Z',
    });
    const sep = s.before(oct);
    expect(show(sep)).toEqual({
      key: '2017-09',
      start: '2017-09-01T04:00:00.000Z',
      end: '2017-10-01T04:00:00.000Z',
    });
    // The boundary instant itself belongs to October, the millisecond before to September.
    expect(calendar('month', 'America/Asuncion').at(ms('2017-10-01T04:00:00Z')).key).toBe(
      '2017-10',
    );
    expect(calendar('month', 'America/Asuncion').at(ms('2017-10-01T03:59:59.999Z')).key).toBe(
      '2017-09',
    );
  });

  it('the default rule is a calendar month in UTC', () => {
    expect(DEFAULT_PERIOD_RULE).toEqual({ every: 'month', anchor: 'calendar', timeZone: 'UTC' });
  });
});

describe('day, week and year rules and their keys', () => {
  it.each([
    [
      'day',
      'UTC',
      '2026-11-26T13:00:00Z',
      '2026-11-26',
      '2026-11-26T00:00:00.000Z',
      '2026-11-27T00:00:00.000Z',
    ],
    // The spring-forward day is 23 hours long.
    [
      'day',
      'America/New_York',
      '2025-03-09T12:00:00Z',
      '2025-03-09',
      '2025-03-09T05:00:00.000Z',
      '2025-03-10T04:00:00.000Z',
    ],
    // The fall-back day is 25 hours long.
    [
      'day',
      'America/New_York',
      '2025-11-02T12:00:00Z',
      '2025-11-02',
      '2025-11-02T04:00:00.000Z',
      '2025-11-03T05:00:00.000Z',
    ],
    // Havana springs forward at midnight: the day begins at 01:00 CDT.
    [
      'day',
      'America/Havana',
      '2025-03-09T12:00:00Z',
      '2025-03-09',
      '2025-03-09T05:00:00.000Z',
      '2025-03-10T04:00:00.000Z',
    ],
    // Samoa skipped 2011-12-30 entirely: the 29th is followed by the 31st.
    [
      'day',
      'Pacific/Apia',
      '2011-12-29T20:00:00Z',
      '2011-12-29',
      '2011-12-29T10:00:00.000Z',
      '2011-12-30T10:00:00.000Z',
    ],
    [
      'day',
      'Pacific/Apia',
      '2011-12-30T10:00:00Z',
      '2011-12-31',
      '2011-12-30T10:00:00.000Z',
      '2011-12-31T10:00:00.000Z',
    ],
    // Kiritimati skipped 1994-12-31 (−10 → +14).
    [
      'day',
      'Pacific/Kiritimati',
      '1994-12-31T09:59:59.999Z',
      '1994-12-30',
      '1994-12-30T10:00:00.000Z',
      '1994-12-31T10:00:00.000Z',
    ],
    [
      'day',
      'Pacific/Kiritimati',
      '1994-12-31T10:00:00Z',
      '1995-01-01',
      '1994-12-31T10:00:00.000Z',
      '1995-01-01T10:00:00.000Z',
    ],
    // ISO weeks start on Monday; 2026-11-26 is a Thursday.
    [
      'week',
      'UTC',
      '2026-11-26T13:00:00Z',
      '2026-W48',
      '2026-11-23T00:00:00.000Z',
      '2026-11-30T00:00:00.000Z',
    ],
    [
      'week',
      'UTC',
      '2026-11-23T00:00:00Z',
      '2026-W48',
      '2026-11-23T00:00:00.000Z',
      '2026-11-30T00:00:00.000Z',
    ],
    [
      'week',
      'UTC',
      '2026-11-22T23:59:59.999Z',
      '2026-W47',
      '2026-11-16T00:00:00.000Z',
      '2026-11-23T00:00:00.000Z',
    ],
    // Week-numbering years: 2026 has 53 weeks; 2024-12-30 is in 2025-W01.
    [
      'week',
      'UTC',
      '2027-01-01T12:00:00Z',
      '2026-W53',
      '2026-12-28T00:00:00.000Z',
      '2027-01-04T00:00:00.000Z',
    ],
    [
      'week',
      'UTC',
      '2024-12-31T12:00:00Z',
      '2025-W01',
      '2024-12-30T00:00:00.000Z',
      '2025-01-06T00:00:00.000Z',
    ],
    [
      'week',
      'Asia/Kolkata',
      '2026-11-26T13:00:00Z',
      '2026-W48',
      '2026-11-22T18:30:00.000Z',
      '2026-11-29T18:30:00.000Z',
    ],
    [
      'year',
      'UTC',
      '2026-06-01T00:00:00Z',
      '2026',
      '2026-01-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ],
    [
      'year',
      'Pacific/Chatham',
      '2026-06-01T00:00:00Z',
      '2026',
      '2025-12-31T10:15:00.000Z',
      '2026-12-31T10:15:00.000Z',
    ],
    [
      'year',
      'America/New_York',
      '2026-01-01T04:59:59.999Z',
      '2025',
      '2025-01-01T05:00:00.000Z',
      '2026-01-01T05:00:00.000Z',
    ],
  ] as const)('%s in %s at %s is %s [%s, %s)', (every, zone, at, key, start, end) => {
    expect(show(calendar(every, zone).at(ms(at)))).toEqual({ key, start, end });
  });

  it('signup weeks and years key by their nominal local start', () => {
    const week = signup('week', 'UTC', '2026-11-26T09:00:00Z').at(ms('2026-12-04T00:00:00Z'));
    expect(show(week)).toEqual({
      key: '2026-W49',
      start: '2026-12-03T09:00:00.000Z',
      end: '2026-12-10T09:00:00.000Z',
    });
    const year = signup('year', 'Asia/Kolkata', '2024-07-04T06:30:00Z').at(
      ms('2026-01-01T00:00:00Z'),
    );
    expect(show(year)).toEqual({
      key: '2025',
      start: '2025-07-04T06:30:00.000Z',
      end: '2026-07-04T06:30:00.000Z',
    });
  });
});

describe('PeriodCalculator', () => {
  it('uses the subject zone over the rule zone, and the rule zone when the subject has none', () => {
    const calc = new PeriodCalculator(rule('month', 'calendar', 'Asia/Kolkata'));
    const t = ms('2026-11-15T00:00:00Z');
    expect(toIso(calc.at({ timeZone: null, anchorMs: 0 }, t).startMs)).toBe(
      '2026-10-31T18:30:00.000Z',
    );
    expect(toIso(calc.at({ timeZone: 'America/New_York', anchorMs: 0 }, t).startMs)).toBe(
      '2026-11-01T04:00:00.000Z',
    );
  });

  it('keeps signup subjects apart even when they share a zone', () => {
    const calc = new PeriodCalculator(rule('month', 'signup'));
    const t = ms('2026-11-20T00:00:00Z');
    const a = calc.at({ timeZone: null, anchorMs: ms('2026-01-05T00:00:00Z') }, t);
    const b = calc.at({ timeZone: null, anchorMs: ms('2026-01-25T00:00:00Z') }, t);
    expect(toIso(a.startMs)).toBe('2026-11-05T00:00:00.000Z');
    expect(toIso(b.startMs)).toBe('2026-10-25T00:00:00.000Z');
  });

  it('stays correct once its bounded cache has been cleared', () => {
    const calc = new PeriodCalculator(rule('month', 'signup'), 3);
    const t = ms('2026-11-20T00:00:00Z');
    const subjects = [1, 2, 3, 4, 5, 6, 7].map((d) => ({
      timeZone: null,
      anchorMs: ms(`2026-01-0${d}T00:00:00Z`),
    }));
    for (let round = 0; round < 2; round += 1) {
      subjects.forEach((s, i) =>
        expect(toIso(calc.at(s, t).startMs)).toBe(`2026-11-0${i + 1}T00:00:00.000Z`),
      );
    }
  });

  it('refuses an unknown rule zone with the config path', () => {
    expect(() => new PeriodCalculator(rule('month', 'calendar', 'Mars/Olympus'))).toThrow(
      expect.objectContaining({ code: 'INVALID_TIME_ZONE', where: 'period.timeZone' }),
    );
  });

  it('refuses an unknown subject zone', () => {
    const calc = new PeriodCalculator(rule('month', 'calendar'));
    expect(() => calc.at({ timeZone: 'Not/AZone', anchorMs: 0 }, 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_TIME_ZONE' }),
    );
  });
});

describe('parseInstant', () => {
  it('accepts ISO instants and names the field on anything else', () => {
    expect(parseInstant('2026-11-01T00:00:00Z', 'now')).toBe(ms('2026-11-01T00:00:00Z'));
    for (const bad of ['yesterday', '', '1700000000000', '2026-13-45T00:00:00Z']) {
      expect(() => parseInstant(bad, '--now')).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT', where: '--now' }),
      );
    }
  });
});

// --- properties -----------------------------------------------------------

/** Real IANA zones with awkward histories: half/quarter-hour offsets, midnight DST, skipped days. */
const ZONES = [
  'UTC',
  'America/New_York',
  'America/Asuncion',
  'America/Havana',
  'America/Santiago',
  'America/Sao_Paulo',
  'America/St_Johns',
  'Europe/London',
  'Europe/Berlin',
  'Africa/Casablanca',
  'Asia/Tehran',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Pacific/Apia',
  'Pacific/Kiritimati',
] as const;

const instant = fc.integer({ min: ms('1995-01-01T00:00:00Z'), max: ms('2045-01-01T00:00:00Z') });
const KEY_FORMAT: Record<PeriodUnit, RegExp> = {
  day: /^\d{4}-\d{2}-\d{2}$/,
  week: /^\d{4}-W\d{2}$/,
  month: /^\d{4}-\d{2}$/,
  year: /^\d{4}$/,
};

/** The next UTC-offset transition of a zone after an instant (or the instant itself if none). */
function nextTransition(zone: string, atMs: number): number {
  const t = Temporal.Instant.fromEpochMilliseconds(atMs)
    .toZonedDateTimeISO(zone)
    .getTimeZoneTransition('next');
  return t ? t.epochMilliseconds : atMs;
}

/** Half the instants land within ±36 h of a real DST or offset change in the zone that applies. */
const nearTransition = (zone: string) =>
  fc.oneof(
    instant,
    fc
      .tuple(instant, fc.integer({ min: -36 * 3_600_000, max: 36 * 3_600_000 }))
      .map(([base, offset]) => nextTransition(zone, base) + offset),
  );

const scenario = fc
  .record({
    every: fc.constantFrom<PeriodUnit>('day', 'week', 'month', 'year'),
    anchor: fc.constantFrom<'calendar' | 'signup'>('calendar', 'signup'),
    ruleZone: fc.constantFrom(...ZONES),
    subjectZone: fc.option(fc.constantFrom(...ZONES), { nil: null }),
    // A fraction used to pick a second instant inside the period found.
    frac: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  })
  .chain((sc) => {
    const zone = sc.subjectZone ?? sc.ruleZone;
    return fc
      .record({ anchorMs: nearTransition(zone), t: nearTransition(zone) })
      .map((x) => ({ ...sc, ...x }));
  });

describe('properties: periods tile time with no gap or overlap', () => {
  it('start ≤ t < end; after/before are inverse and adjacent; every instant is in exactly one period', () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const r = rule(sc.every, sc.anchor, sc.ruleZone);
        const subject = { timeZone: sc.subjectZone, anchorMs: sc.anchorMs };
        // A fresh schedule per question, so no cached answer can hide a wrong computation.
        const fresh = () => new PeriodSchedule(r, subject);

        const p = fresh().at(sc.t);
        expect(p.startMs).toBeLessThanOrEqual(sc.t);
        expect(sc.t).toBeLessThan(p.endMs);
        expect(p.key).toMatch(KEY_FORMAT[sc.every]);

        const next = fresh().after(p);
        const prev = fresh().before(p);
        expect(next.startMs).toBe(p.endMs);
        expect(prev.endMs).toBe(p.startMs);
        expect(fresh().before(next)).toEqual(p);
        expect(fresh().after(prev)).toEqual(p);
        expect(new Set([prev.key, p.key, next.key]).size).toBe(3);

        // Exactly one period: both ends and an inner instant map to p, the neighbours do not.
        const inner = p.startMs + Math.floor(sc.frac * (p.endMs - p.startMs));
        expect(fresh().at(p.startMs)).toEqual(p);
        expect(fresh().at(p.endMs - 1)).toEqual(p);
        expect(fresh().at(inner)).toEqual(p);
        expect(fresh().at(p.startMs - 1)).toEqual(prev);
        expect(fresh().at(p.endMs)).toEqual(next);

        // A schedule that has answered other questions first (warm cache) agrees.
        const warm = fresh();
        warm.at(sc.anchorMs);
        warm.at(next.endMs);
        expect(warm.at(sc.t)).toEqual(p);

        // The calculator (shared, cached) agrees with a stand-alone schedule.
        const calc = new PeriodCalculator(r);
        expect(calc.at(subject, sc.t)).toEqual(p);
        expect(calc.after(subject, p)).toEqual(next);
        expect(p.endMs - p.startMs).toBeGreaterThanOrEqual(calc.minimumLengthMs());
      }),
      { numRuns: 400 },
    );
  });

  it('walking forward from any period visits consecutive periods whose starts follow the anchor rule', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom<PeriodUnit>('day', 'week', 'month', 'year'),
        instant,
        (zone, every, anchorMs) => {
          const s = new PeriodSchedule(rule(every, 'signup', zone), { timeZone: null, anchorMs });
          const base = Temporal.Instant.fromEpochMilliseconds(anchorMs)
            .toZonedDateTimeISO(zone)
            .toPlainDateTime();
          const unit = ({ day: 'days', week: 'weeks', month: 'months', year: 'years' } as const)[
            every
          ];
          // start(k) is anchor + k × interval in local time, clamped, then put on the time line.
          // (A nominal start inside a skipped day can coincide with the next one: that period is empty.)
          const expected: string[] = [];
          for (let k = 0; expected.length < 14; k += 1) {
            const start = toIso(
              localToEpochMs(base.add({ [unit]: k }, { overflow: 'constrain' }), zone),
            );
            if (expected[expected.length - 1] !== start) expected.push(start);
          }
          let p = s.at(anchorMs);
          const walked: string[] = [];
          for (let k = 0; k < 14; k += 1) {
            walked.push(toIso(p.startMs));
            const next = s.after(p);
            expect(next.startMs).toBe(p.endMs);
            p = next;
          }
          expect(walked).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
