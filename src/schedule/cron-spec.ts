import { Cron, CronPattern } from 'croner';
import { BadInputError, QuotaClockError } from '../core/errors.js';

/** Every platform quotaclock writes a schedule for. */
export const TARGETS = ['cron', 'systemd', 'windows', 'k8s', 'aws', 'azure', 'gcp'] as const;
export type Target = (typeof TARGETS)[number];

/** A cron expression that one platform cannot express; the message says why and what to do. */
export class ScheduleUnsupportedError extends QuotaClockError {
  constructor(target: Target | 'all', expression: string, reason: string, where = '--cron') {
    const who = target === 'all' ? 'quotaclock schedules' : `the ${target} target`;
    super(
      'SCHEDULE_UNSUPPORTED',
      `${where}: "${expression}" cannot be expressed for ${who}: ${reason}`,
      { where },
    );
  }
}

/**
 * How the two day fields combine. Standard cron runs a job when either
 * restricted day field matches; `every` and the single-field rules are the
 * same in every dialect, `either` is not.
 */
export type DayRule = 'every' | 'dom' | 'dow' | 'either';

/**
 * A five-field cron expression as sets of values, read by croner (the same
 * parser the daemon and the config schema use), so no target sees a
 * different schedule than the one that was validated.
 */
export interface CronSpec {
  readonly source: string;
  /** The five fields after nicknames (@monthly) were expanded. */
  readonly fields: readonly [string, string, string, string, string];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** 1..31; the last day of the month is `lastDay`, not a number. */
  readonly days: readonly number[];
  readonly lastDay: boolean;
  /** 1..12 */
  readonly months: readonly number[];
  /** 0..6, Sunday = 0 */
  readonly weekdays: readonly number[];
  readonly dayRule: DayRule;
}

const ANY_OCCURRENCE = 63; // croner's bitmask for "every week of the month" in day-of-week

function indexes(values: readonly number[], offset = 0): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (v) out.push(i + offset);
  });
  return out;
}

const full = (values: readonly number[], min: number, max: number) =>
  values.length === max - min + 1;

/**
 * Reads and checks a cron expression. Refused with a coded error: anything
 * croner rejects, seconds or years (schedules are minute-resolution and run
 * forever), the non-standard W, # and nL modifiers, croner's "+" AND
 * modifier, an expression that never fires, and a day-field combination
 * that cron implementations read differently.
 */
export function parseCron(expression: string, where = '--cron'): CronSpec {
  const source = expression.trim();
  let pattern: CronPattern;
  try {
    pattern = new CronPattern(source, undefined, { mode: 'auto' });
  } catch (e) {
    throw new BadInputError(
      `${where}: "${source}" is not a valid cron expression: ${(e as Error).message.replace(/^CronPattern: /, '')}`,
      where,
    );
  }
  const fields = pattern.pattern.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new ScheduleUnsupportedError(
      'all',
      source,
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}; seconds and years are not used`,
      where,
    );
  }
  const [, , domText, , dowText] = fields as [string, string, string, string, string];
  if (pattern.lastWeekday || pattern.nearestWeekdays.some((v) => v)) {
    throw new ScheduleUnsupportedError(
      'all',
      source,
      'the nearest-weekday modifier (W, LW) has no equivalent on most platforms',
      where,
    );
  }
  if (pattern.dayOfWeek.some((v) => v !== 0 && v !== ANY_OCCURRENCE)) {
    throw new ScheduleUnsupportedError(
      'all',
      source,
      'nth-weekday modifiers (# and nL) have no equivalent on most platforms',
      where,
    );
  }
  if (pattern.useAndLogic) {
    throw new ScheduleUnsupportedError(
      'all',
      source,
      'the "+" day-of-week modifier is croner-only',
      where,
    );
  }
  try {
    if (new Cron(source, { paused: true }).nextRun(new Date(Date.UTC(2000, 0, 1))) === null)
      throw new Error('never');
  } catch {
    throw new BadInputError(`${where}: "${source}" never fires (no date matches it)`, where);
  }

  const minutes = indexes(pattern.minute);
  const hours = indexes(pattern.hour);
  const days = indexes(pattern.day, 1);
  const months = indexes(pattern.month, 1);
  const weekdays = indexes(pattern.dayOfWeek);
  const lastDay = pattern.lastDayOfMonth;
  const domStar = pattern.starDOM;
  const dowStar = pattern.starDOW;

  let dayRule: DayRule;
  if (domStar && dowStar) dayRule = 'every';
  else if (!domStar && dowStar) dayRule = full(days, 1, 31) ? 'every' : 'dom';
  else if (domStar && !dowStar) dayRule = full(weekdays, 0, 6) ? 'every' : 'dow';
  else {
    // Vixie cron and Kubernetes treat a field that starts with "*" (like */2) as
    // unrestricted; croner and POSIX do not. Refuse rather than pick one.
    if (domText.startsWith('*') || dowText.startsWith('*')) {
      throw new ScheduleUnsupportedError(
        'all',
        source,
        'with both day fields restricted and one starting with "*", cron implementations disagree on whether either or both must match; list the days explicitly',
        where,
      );
    }
    dayRule = full(days, 1, 31) || full(weekdays, 0, 6) ? 'every' : 'either';
  }

  return {
    source,
    fields: fields as [string, string, string, string, string],
    minutes,
    hours,
    days: dayRule === 'dow' || dayRule === 'every' ? [] : days,
    lastDay: dayRule === 'dom' || dayRule === 'either' ? lastDay : false,
    months,
    weekdays: dayRule === 'dom' || dayRule === 'every' ? [] : weekdays,
    dayRule,
  };
}

export interface FieldStyle {
  readonly min: number;
  readonly max: number;
  /** Separator of a range: "-" (cron) or ".." (systemd). */
  readonly range: string;
  /** How a whole-range step is written, or undefined when the dialect has none. */
  readonly step?: (start: number, step: number, max: number) => string;
  readonly star?: string;
  readonly name?: (value: number) => string;
}

/** Renders a set of values in one dialect: *, a step, ranges and lists. */
export function fieldText(values: readonly number[], style: FieldStyle): string {
  const name = style.name ?? ((v: number) => String(v));
  if (values.length === 0) throw new Error('fieldText: empty field');
  if (full(values, style.min, style.max)) return style.star ?? '*';
  if (style.step && values.length >= 3) {
    const step = values[1]! - values[0]!;
    const progression = step > 1 && values.every((v, i) => i === 0 || v - values[i - 1]! === step);
    if (progression && values[values.length - 1]! + step > style.max) {
      return style.step(values[0]!, step, style.max);
    }
  }
  const parts: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j += 1;
    if (j - i >= 2) parts.push(`${name(values[i]!)}${style.range}${name(values[j]!)}`);
    else for (let k = i; k <= j; k += 1) parts.push(name(values[k]!));
    i = j + 1;
  }
  return parts.join(',');
}
