import { Temporal } from 'temporal-polyfill';
import { BadInputError } from './errors.js';
import { canonicalTimeZone } from './time-zone.js';

export type PeriodUnit = 'day' | 'week' | 'month' | 'year';
export type AnchorKind = 'calendar' | 'signup';

export interface PeriodRule {
  readonly every: PeriodUnit;
  readonly anchor: AnchorKind;
  /** IANA zone used when a subject has none of its own. */
  readonly timeZone: string;
}

/** What a subject contributes to its own period boundaries. */
export interface PeriodSubject {
  /** The subject's own zone, or null to use the rule's. */
  readonly timeZone: string | null;
  /** Epoch ms of the signup instant; only read when the rule anchors on signup. */
  readonly anchorMs: number;
}

export interface Period {
  /** Epoch ms, inclusive. */
  readonly startMs: number;
  /** Epoch ms, exclusive. */
  readonly endMs: number;
  /** Human key of the period, from its nominal local start: 2026-11, 2026-W48, 2026-11-26, 2026. */
  readonly key: string;
}

export const DEFAULT_PERIOD_RULE: PeriodRule = {
  every: 'month',
  anchor: 'calendar',
  timeZone: 'UTC',
};

const UNIT_DURATION: Record<PeriodUnit, 'days' | 'weeks' | 'months' | 'years'> = {
  day: 'days',
  week: 'weeks',
  month: 'months',
  year: 'years',
};

/** The calendar epoch per unit; weeks start on Monday (ISO 8601). */
const CALENDAR_BASE: Record<PeriodUnit, Temporal.PlainDateTime> = {
  day: Temporal.PlainDateTime.from('1970-01-01T00:00'),
  week: Temporal.PlainDateTime.from('1970-01-05T00:00'),
  month: Temporal.PlainDateTime.from('1970-01-01T00:00'),
  year: Temporal.PlainDateTime.from('1970-01-01T00:00'),
};

/**
 * Turns a local wall-clock time into an instant with the DESIGN.md rules:
 * a time inside a DST gap moves to the first valid instant after the gap;
 * a time inside an overlap takes the earlier instant.
 */
export function localToEpochMs(local: Temporal.PlainDateTime, zone: string): number {
  const earlier = local.toZonedDateTime(zone, { disambiguation: 'earlier' });
  if (Temporal.PlainDateTime.compare(earlier.toPlainDateTime(), local) === 0) {
    return earlier.epochMilliseconds;
  }
  // In a gap 'earlier' lands before the gap; the next transition is its end.
  const transition = earlier.getTimeZoneTransition('next');
  if (!transition)
    return local.toZonedDateTime(zone, { disambiguation: 'later' }).epochMilliseconds;
  return transition.epochMilliseconds;
}

function keyOf(unit: PeriodUnit, local: Temporal.PlainDateTime): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const y = local.year < 0 || local.year > 9999 ? String(local.year) : pad(local.year, 4);
  switch (unit) {
    case 'day':
      return `${y}-${pad(local.month)}-${pad(local.day)}`;
    case 'month':
      return `${y}-${pad(local.month)}`;
    case 'year':
      return y;
    case 'week': {
      const d = local.toPlainDate();
      return `${pad(d.yearOfWeek ?? d.year, 4)}-W${pad(d.weekOfYear ?? 1)}`;
    }
  }
}

/**
 * The schedule of one subject under one rule: start(k) = base + k × interval,
 * always counted from the base (never from the previous start), with
 * month-end clamping done by Temporal's 'constrain' overflow.
 */
export class PeriodSchedule {
  private readonly base: Temporal.PlainDateTime;
  private readonly zone: string;
  private readonly unit: PeriodUnit;
  private last: Period | undefined;

  constructor(rule: PeriodRule, subject: PeriodSubject) {
    this.unit = rule.every;
    this.zone = canonicalTimeZone(subject.timeZone ?? rule.timeZone);
    if (rule.anchor === 'signup') {
      if (!Number.isFinite(subject.anchorMs))
        throw new BadInputError('anchor: not a valid instant', 'anchor');
      this.base = Temporal.Instant.fromEpochMilliseconds(subject.anchorMs)
        .toZonedDateTimeISO(this.zone)
        .toPlainDateTime();
    } else {
      this.base = CALENDAR_BASE[rule.every];
    }
  }

  private nominal(k: number): Temporal.PlainDateTime {
    return this.base.add({ [UNIT_DURATION[this.unit]]: k }, { overflow: 'constrain' });
  }

  private startMs(k: number): number {
    return localToEpochMs(this.nominal(k), this.zone);
  }

  /** A close guess of k for an instant, corrected by the caller's walk. */
  private estimateK(atMs: number): number {
    const local = Temporal.Instant.fromEpochMilliseconds(atMs)
      .toZonedDateTimeISO(this.zone)
      .toPlainDateTime();
    const b = this.base;
    switch (this.unit) {
      case 'year':
        return local.year - b.year;
      case 'month':
        return (local.year - b.year) * 12 + (local.month - b.month);
      case 'week':
      case 'day': {
        const days = b.toPlainDate().until(local.toPlainDate(), { largestUnit: 'days' }).days;
        return this.unit === 'day' ? days : Math.floor(days / 7);
      }
    }
  }

  private indexAt(atMs: number): number {
    let k = this.estimateK(atMs);
    while (this.startMs(k) > atMs) k -= 1;
    while (this.startMs(k + 1) <= atMs) k += 1;
    return k;
  }

  private periodOf(k: number): Period {
    return {
      startMs: this.startMs(k),
      endMs: this.startMs(k + 1),
      key: keyOf(this.unit, this.nominal(k)),
    };
  }

  /** The period with start ≤ at < end. */
  at(atMs: number): Period {
    const last = this.last;
    if (last && last.startMs <= atMs && atMs < last.endMs) return last;
    const p = this.periodOf(this.indexAt(atMs));
    this.last = p;
    return p;
  }

  /** The period that starts exactly where `period` ends. */
  after(period: Period): Period {
    return this.at(period.endMs);
  }

  /** The period that ends exactly where `period` starts. */
  before(period: Period): Period {
    return this.at(period.startMs - 1);
  }
}

/**
 * Memoises schedules: calendar subjects in one zone share one schedule, and a
 * signup subject reuses its own. The cache is bounded so that a long-running
 * server with millions of signup anchors does not grow without limit.
 */
export class PeriodCalculator {
  private readonly schedules = new Map<string, PeriodSchedule>();

  constructor(
    readonly rule: PeriodRule,
    private readonly maxCached = 10_000,
  ) {
    canonicalTimeZone(rule.timeZone, 'period.timeZone');
  }

  schedule(subject: PeriodSubject): PeriodSchedule {
    const zone = subject.timeZone ?? this.rule.timeZone;
    const id = this.rule.anchor === 'signup' ? `${zone}|${subject.anchorMs}` : zone;
    let s = this.schedules.get(id);
    if (!s) {
      s = new PeriodSchedule(this.rule, subject);
      if (this.schedules.size >= this.maxCached) this.schedules.clear();
      this.schedules.set(id, s);
    }
    return s;
  }

  at(subject: PeriodSubject, atMs: number): Period {
    return this.schedule(subject).at(atMs);
  }

  after(subject: PeriodSubject, period: Period): Period {
    return this.schedule(subject).after(period);
  }

  /**
   * A lower bound on the real-time length of any period `at` returns: the
   * nominal length minus DST slack and minus two days, because zones have
   * skipped whole calendar days (Pacific/Kiritimati 1994-12-31, Pacific/Apia
   * 2011-12-30) and a nominal start inside a skipped day moves back to the
   * start of the gap. A daily period can therefore be almost empty.
   */
  minimumLengthMs(): number {
    const day = 86_400_000;
    const byUnit = { day: day, week: 7 * day, month: 28 * day, year: 365 * day };
    return Math.max(1, byUnit[this.rule.every] - 2 * day - 2 * 3_600_000);
  }
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

export function parseInstant(value: string, where: string): number {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new BadInputError(`${where}: expected an ISO-8601 instant, got "${value}"`, where);
  }
  return ms;
}
