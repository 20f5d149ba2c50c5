import { Temporal } from 'temporal-polyfill';
import {
  localToEpochMs,
  PeriodCalculator,
  PeriodSchedule,
  type Period,
  type PeriodRule,
  type PeriodUnit,
} from './period.js';

/** The shape of a period key per unit: 2026-11-26, 2026-W48, 2026-11, 2026. */
export const PERIOD_KEY_FORMAT: Readonly<Record<PeriodUnit, RegExp>> = {
  day: /^\d{4}-\d{2}-\d{2}$/,
  week: /^\d{4}-W\d{2}$/,
  month: /^\d{4}-\d{2}$/,
  year: /^\d{4}$/,
};

export function isPeriodKeyOf(unit: PeriodUnit, key: string): boolean {
  return PERIOD_KEY_FORMAT[unit].test(key);
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The local date a key names as its first day (ISO weeks start on Monday),
 * or null when the text is not a date of that unit (2026-13, 2026-02-30).
 * A week number past the year's last week is not caught here: the period
 * found from its date has another key, which `calendarPeriodOfKey` checks.
 */
export function periodKeyDate(unit: PeriodUnit, key: string): Temporal.PlainDate | null {
  if (!isPeriodKeyOf(unit, key)) return null;
  try {
    if (unit === 'week') {
      const [y, w] = key.split('-W').map(Number) as [number, number];
      const jan4 = Temporal.PlainDate.from({ year: y, month: 1, day: 4 });
      return jan4.subtract({ days: jan4.dayOfWeek - 1 }).add({ weeks: w - 1 });
    }
    const [y, m = 1, d = 1] = key.split('-').map(Number) as [number, number?, number?];
    return Temporal.PlainDate.from({ year: y, month: m, day: d }, { overflow: 'reject' });
  } catch {
    return null;
  }
}

function calendarSchedule(rule: PeriodRule): PeriodSchedule {
  return new PeriodSchedule({ ...rule, anchor: 'calendar' }, { timeZone: null, anchorMs: 0 });
}

/** The calendar period in the rule's own zone that has this key, or null when no period has it. */
export function calendarPeriodOfKey(rule: PeriodRule, key: string): Period | null {
  const date = periodKeyDate(rule.every, key);
  if (date === null) return null;
  const startMs = localToEpochMs(date.toPlainDateTime(), rule.timeZone);
  const period = calendarSchedule(rule).at(startMs);
  return period.key === key ? period : null;
}

/** The most recently ended calendar period in the rule's own zone: what "this month's reset" is about. */
export function lastEndedPeriod(rule: PeriodRule, nowMs: number): Period {
  const schedule = calendarSchedule(rule);
  return schedule.before(schedule.at(nowMs));
}

/**
 * Closed history that ended before this instant may be pruned, keeping
 * `retentionPeriods` whole calendar periods before the current one.
 */
export function retentionCutoff(rule: PeriodRule, retentionPeriods: number, nowMs: number): number {
  const schedule = calendarSchedule(rule);
  let p = schedule.at(nowMs);
  for (let i = 0; i < retentionPeriods; i += 1) p = schedule.before(p);
  // Subjects in zones behind the rule's end their periods up to 12 h later (UTC−12);
  // 14 h of slack keeps exactly `retention` periods for every zone, even daily ones.
  return p.startMs + 14 * HOUR;
}

/** Epoch ms where a period key's nominal UTC calendar unit starts: 2026, 2026-11, 2026-11-26, 2026-W48. */
export function keyStartUtc(key: string): number | null {
  let m = /^(\d{4})$/.exec(key);
  if (m) return Date.UTC(Number(m[1]), 0, 1);
  m = /^(\d{4})-(\d{2})$/.exec(key);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  m = /^(\d{4})-W(\d{2})$/.exec(key);
  if (m) {
    const jan4 = Date.UTC(Number(m[1]), 0, 4);
    const monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY;
    return monday + (Number(m[2]) - 1) * 7 * DAY;
  }
  return null;
}

/**
 * How far from the rule zone's end of a period the same period may end in
 * another zone: zones span UTC−12…UTC+14, plus an hour of daylight saving.
 */
export const ZONE_END_SPREAD_MS = 27 * HOUR;

/**
 * The instants a period ending at endMs in the rule's zone may end at in any
 * zone. For calendar weeks, months and years these windows of neighbouring
 * keys never overlap, so a count over one window counts one key.
 */
export function zoneEndWindow(endMs: number): { lo: number; hi: number } {
  return { lo: endMs - ZONE_END_SPREAD_MS, hi: endMs + ZONE_END_SPREAD_MS };
}

/**
 * The period with this key in the rule's zone, found from the key's UTC
 * start (14 h later, so the earliest zone has begun it); null when the key
 * does not parse or names no period of the rule there.
 */
export function ruleZonePeriodOfKey(periods: PeriodCalculator, key: string): Period | null {
  const startMs = keyStartUtc(key);
  if (startMs === null) return null;
  const p = periods.at({ timeZone: null, anchorMs: 0 }, startMs + 14 * HOUR);
  return p.key === key ? p : null;
}

/**
 * An instant no period with this key ends after, in any zone: the end of
 * the UTC calendar period the key names, one period later for signup
 * anchors (a period keyed by its start month ends in the next), plus two
 * days for zones and daylight saving. Infinity when the key does not parse.
 */
export function latestEndOfKey(rule: PeriodRule, key: string): number {
  const startMs = keyStartUtc(key);
  if (startMs === null) return Number.POSITIVE_INFINITY;
  const utc = new PeriodCalculator({ every: rule.every, anchor: 'calendar', timeZone: 'UTC' });
  let p = utc.at({ timeZone: 'UTC', anchorMs: 0 }, startMs);
  if (rule.anchor === 'signup') p = utc.after({ timeZone: 'UTC', anchorMs: 0 }, p);
  return p.endMs + 2 * DAY;
}

/**
 * A period key that no period ending at or before cutMs sorts after, in any
 * zone: the key of the period at cutMs plus two days in the earliest zone.
 */
export function keyBoundEndingBy(periods: PeriodCalculator, cutMs: number): string {
  return periods.at({ timeZone: 'Pacific/Kiritimati', anchorMs: 0 }, cutMs + 2 * DAY).key;
}
