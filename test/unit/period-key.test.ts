import { describe, expect, it } from 'vitest';
import { PeriodCalculator, toIso, type PeriodRule } from '../../src/core/period.js';
import {
  calendarPeriodOfKey,
  isPeriodKeyOf,
  keyBoundEndingBy,
  keyStartUtc,
  lastEndedPeriod,
  latestEndOfKey,
  periodKeyDate,
  retentionCutoff,
  ruleZonePeriodOfKey,
  zoneEndWindow,
  ZONE_END_SPREAD_MS,
} from '../../src/core/period-key.js';

const ms = (iso: string) => Date.parse(iso);
const month: PeriodRule = { every: 'month', anchor: 'calendar', timeZone: 'UTC' };

describe('period keys', () => {
  it('tells the key shape of each unit', () => {
    expect(isPeriodKeyOf('month', '2026-11')).toBe(true);
    expect(isPeriodKeyOf('month', '2026-W48')).toBe(false);
    expect(isPeriodKeyOf('week', '2026-W48')).toBe(true);
    expect(isPeriodKeyOf('day', '2026-11-26')).toBe(true);
    expect(isPeriodKeyOf('year', '2026')).toBe(true);
    expect(isPeriodKeyOf('year', '2026-01')).toBe(false);
  });

  it('parses a key into the local date it starts on, and refuses impossible dates', () => {
    expect(periodKeyDate('month', '2026-11')?.toString()).toBe('2026-11-01');
    expect(periodKeyDate('day', '2026-02-28')?.toString()).toBe('2026-02-28');
    expect(periodKeyDate('year', '2026')?.toString()).toBe('2026-01-01');
    // ISO week 1 of 2026 starts on Monday 2025-12-29.
    expect(periodKeyDate('week', '2026-W01')?.toString()).toBe('2025-12-29');
    expect(periodKeyDate('week', '2026-W48')?.toString()).toBe('2026-11-23');
    expect(periodKeyDate('month', '2026-13')).toBeNull();
    expect(periodKeyDate('day', '2026-02-30')).toBeNull();
    expect(periodKeyDate('month', '2026-11-01')).toBeNull();
  });

  it("finds the calendar period of a key in the rule's zone, or null", () => {
    const p = calendarPeriodOfKey({ ...month, timeZone: 'Europe/Paris' }, '2026-11');
    expect(p && { key: p.key, start: toIso(p.startMs), end: toIso(p.endMs) }).toEqual({
      key: '2026-11',
      start: '2026-10-31T23:00:00.000Z',
      end: '2026-11-30T23:00:00.000Z',
    });
    // 2026 has 53 ISO weeks, 2025 has 52: week 53 of 2025 is week 1 of 2026.
    const week: PeriodRule = { every: 'week', anchor: 'calendar', timeZone: 'UTC' };
    expect(calendarPeriodOfKey(week, '2026-W53')?.key).toBe('2026-W53');
    expect(calendarPeriodOfKey(week, '2025-W53')).toBeNull();
    expect(calendarPeriodOfKey(month, '2026-13')).toBeNull();
    // A signup rule's keys are still looked up on the calendar.
    expect(calendarPeriodOfKey({ ...month, anchor: 'signup' }, '2026-11')?.startMs).toBe(
      ms('2026-11-01T00:00:00Z'),
    );
  });

  it("gives the last ended period in the rule's zone", () => {
    expect(lastEndedPeriod(month, ms('2026-12-01T00:01:00Z')).key).toBe('2026-11');
    expect(lastEndedPeriod(month, ms('2026-12-01T00:00:00Z')).key).toBe('2026-11');
    expect(lastEndedPeriod(month, ms('2026-11-30T23:59:59Z')).key).toBe('2026-10');
    // In Tokyo, 2026-11-30T15:30Z is already December.
    expect(
      lastEndedPeriod({ ...month, timeZone: 'Asia/Tokyo' }, ms('2026-11-30T15:30:00Z')).key,
    ).toBe('2026-11');
  });

  it('keeps `retention` whole periods before the current one, 14 h late for zones behind', () => {
    const now = ms('2026-12-06T12:00:00Z');
    expect(toIso(retentionCutoff(month, 3, now))).toBe('2026-09-01T14:00:00.000Z');
    expect(toIso(retentionCutoff(month, 0, now))).toBe('2026-12-01T14:00:00.000Z');
    const day: PeriodRule = { every: 'day', anchor: 'calendar', timeZone: 'UTC' };
    expect(toIso(retentionCutoff(day, 2, now))).toBe('2026-12-04T14:00:00.000Z');
  });

  it("gives a key's nominal UTC start for every unit", () => {
    expect(keyStartUtc('2026')).toBe(ms('2026-01-01T00:00:00Z'));
    expect(keyStartUtc('2026-11')).toBe(ms('2026-11-01T00:00:00Z'));
    expect(keyStartUtc('2026-11-26')).toBe(ms('2026-11-26T00:00:00Z'));
    expect(keyStartUtc('2026-W48')).toBe(ms('2026-11-23T00:00:00Z'));
    expect(keyStartUtc('2026-W01')).toBe(ms('2025-12-29T00:00:00Z'));
    expect(keyStartUtc('2026-11#shard-0-of-2')).toBeNull();
  });

  it('windows the ends of one key across zones without touching the next key', () => {
    const end = ms('2026-12-01T00:00:00Z');
    expect(zoneEndWindow(end)).toEqual({
      lo: end - ZONE_END_SPREAD_MS,
      hi: end + ZONE_END_SPREAD_MS,
    });
    // Weekly ends are 7 days apart: the windows of neighbouring keys stay apart.
    const next = zoneEndWindow(end + 7 * 86_400_000);
    expect(next.lo).toBeGreaterThan(zoneEndWindow(end).hi);
  });

  it("finds a key's period in the rule's zone from its UTC start", () => {
    const periods = new PeriodCalculator({ ...month, timeZone: 'America/New_York' });
    const p = ruleZonePeriodOfKey(periods, '2026-11');
    expect(p && toIso(p.startMs)).toBe('2026-11-01T04:00:00.000Z');
    expect(ruleZonePeriodOfKey(periods, 'not-a-key')).toBeNull();
    const weekly = new PeriodCalculator({ every: 'week', anchor: 'calendar', timeZone: 'UTC' });
    expect(ruleZonePeriodOfKey(weekly, '2026-11')).toBeNull();
  });

  it('bounds the latest end of a key in any zone, a period later for signup anchors', () => {
    expect(toIso(latestEndOfKey(month, '2026-11'))).toBe('2026-12-03T00:00:00.000Z');
    expect(toIso(latestEndOfKey({ ...month, anchor: 'signup' }, '2026-11'))).toBe(
      '2027-01-03T00:00:00.000Z',
    );
    expect(latestEndOfKey(month, 'x')).toBe(Number.POSITIVE_INFINITY);
  });

  it('bounds the keys of periods ending by a cut in any zone', () => {
    const periods = new PeriodCalculator(month);
    expect(keyBoundEndingBy(periods, ms('2026-09-01T14:00:00Z'))).toBe('2026-09');
    expect(keyBoundEndingBy(periods, ms('2026-09-29T23:00:00Z'))).toBe('2026-10');
  });
});
