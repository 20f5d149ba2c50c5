import {
  fieldText,
  ScheduleUnsupportedError,
  type CronSpec,
  type FieldStyle,
  type Target,
} from './cron-spec.js';

/**
 * One cron expression, written in each platform's dialect. Each function
 * either returns an expression with exactly the same firing times or throws
 * SCHEDULE_UNSUPPORTED naming the target and the reason.
 */

const CRON_STEP = (start: number, step: number, max: number, min: number) =>
  start === min ? `*/${step}` : `${start}-${max}/${step}`;

const cronStyle = (min: number, max: number): FieldStyle => ({
  min,
  max,
  range: '-',
  step: (start, step, top) => CRON_STEP(start, step, top, min),
});

function refuse(target: Target, spec: CronSpec, reason: string): never {
  throw new ScheduleUnsupportedError(target, spec.source, reason);
}

/**
 * Standard five-field cron as Vixie cron, cronie, Kubernetes (robfig/cron)
 * and Cloud Scheduler read it: when both day fields are restricted, either
 * one matching is enough.
 */
export function toStandardCron(spec: CronSpec, target: Target = 'cron'): string {
  if (spec.lastDay) {
    refuse(
      target,
      spec,
      '"L" (last day of the month) is not standard cron; use systemd, windows or aws, or the daemon',
    );
  }
  const minute = fieldText(spec.minutes, cronStyle(0, 59));
  const hour = fieldText(spec.hours, cronStyle(0, 23));
  const month = fieldText(spec.months, cronStyle(1, 12));
  const dom =
    spec.dayRule === 'dom' || spec.dayRule === 'either'
      ? fieldText(spec.days, cronStyle(1, 31))
      : '*';
  const dow =
    spec.dayRule === 'dow' || spec.dayRule === 'either'
      ? fieldText(spec.weekdays, { min: 0, max: 6, range: '-' })
      : '*';
  return `${minute} ${hour} ${dom} ${month} ${dow}`;
}

const SYSTEMD_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad2 = (v: number) => String(v).padStart(2, '0');

/**
 * systemd.time(7) calendar events, one per line of OnCalendar=. systemd ANDs
 * the weekday with the date, so "either day field" becomes two events, and
 * the last day of the month is the "~01" form.
 */
export function toSystemdCalendar(spec: CronSpec, timeZone: string): string[] {
  const stepped = (start: number, step: number) => `${pad2(start)}/${step}`;
  const minute = fieldText(spec.minutes, {
    min: 0,
    max: 59,
    range: '..',
    step: stepped,
    name: pad2,
  });
  const hour = fieldText(spec.hours, { min: 0, max: 23, range: '..', step: stepped, name: pad2 });
  const month = fieldText(spec.months, { min: 1, max: 12, range: '..', name: pad2 });
  const time = `${hour}:${minute}:00`;
  // Sunday is 0 in cron and last in systemd's week, so ranges never wrap.
  const weekdays = fieldText(spec.weekdays.length ? spec.weekdays : [0], {
    min: 0,
    max: 6,
    range: '..',
    name: (v) => SYSTEMD_DAYS[v]!,
  });
  const events: string[] = [];
  const dateWith = (day: string) => `*-${month}-${day}`;
  if (spec.dayRule === 'every') events.push(`${dateWith('*')} ${time}`);
  if (spec.dayRule === 'dom' || spec.dayRule === 'either') {
    if (spec.days.length)
      events.push(
        `${dateWith(fieldText(spec.days, { min: 1, max: 31, range: '..', name: pad2 }))} ${time}`,
      );
    if (spec.lastDay) events.push(`*-${month}~01 ${time}`);
  }
  if (spec.dayRule === 'dow' || spec.dayRule === 'either')
    events.push(`${weekdays} ${dateWith('*')} ${time}`);
  return events.map((e) => `${e} ${timeZone}`);
}

const AWS_DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * EventBridge (Scheduler and rules) cron(): six fields with a year, one of
 * the two day fields must be "?", weekdays are 1-7 from Sunday (written as
 * names here so nobody has to remember that).
 */
export function toAwsCron(spec: CronSpec): string {
  const slash = (start: number, step: number) => `${start}/${step}`;
  const minute = fieldText(spec.minutes, { min: 0, max: 59, range: '-', step: slash });
  const hour = fieldText(spec.hours, { min: 0, max: 23, range: '-', step: slash });
  const month = fieldText(spec.months, { min: 1, max: 12, range: '-', step: slash });
  let dom = '*';
  let dow = '?';
  if (spec.dayRule === 'either') {
    refuse(
      'aws',
      spec,
      'EventBridge cannot run on "this day of the month OR this weekday" (one day field must be "?"); create two schedules',
    );
  }
  if (spec.dayRule === 'dom') {
    if (spec.lastDay && spec.days.length)
      refuse('aws', spec, 'EventBridge accepts "L" only on its own in day-of-month');
    dom = spec.lastDay ? 'L' : fieldText(spec.days, { min: 1, max: 31, range: '-', step: slash });
  }
  if (spec.dayRule === 'dow') {
    dom = '?';
    dow = fieldText(spec.weekdays, { min: 0, max: 6, range: '-', name: (v) => AWS_DAYS[v]! });
  }
  return `cron(${minute} ${hour} ${dom} ${month} ${dow} *)`;
}

/**
 * Azure Functions NCRONTAB: a seconds field first. NCrontab requires the day
 * of the month AND the weekday to match, and knows no "L".
 */
export function toNcrontab(spec: CronSpec): string {
  if (spec.lastDay) refuse('azure', spec, 'NCRONTAB has no "L" (last day of the month)');
  if (spec.dayRule === 'either') {
    refuse(
      'azure',
      spec,
      'NCRONTAB requires both day fields to match, so "day of the month OR weekday" cannot be written; register two timers',
    );
  }
  return `0 ${toStandardCron(spec, 'azure')}`;
}

/** Kubernetes CronJob .spec.schedule (robfig/cron, standard semantics); the zone goes in .spec.timeZone. */
export const toKubernetesSchedule = (spec: CronSpec) => toStandardCron(spec, 'k8s');

/** Cloud Scheduler's unix-cron; the zone goes in --time-zone. */
export const toCloudSchedulerCron = (spec: CronSpec) => toStandardCron(spec, 'gcp');

export type WindowsSchedule =
  | { readonly kind: 'daily' }
  | {
      readonly kind: 'monthly';
      readonly days: ReadonlyArray<number | 'Last'>;
      readonly months: readonly number[];
    }
  | { readonly kind: 'weekly'; readonly weekdays: readonly number[] }
  | {
      readonly kind: 'monthlyDayOfWeek';
      readonly weekdays: readonly number[];
      readonly months: readonly number[];
    };

export interface WindowsTrigger {
  /** HH:MM, local to the machine (or UTC when the zone is UTC). */
  readonly time: string;
  /** Repeat every intervalMinutes for durationMinutes after `time`. */
  readonly repetition?: { readonly intervalMinutes: number; readonly durationMinutes: number };
  readonly schedule: WindowsSchedule;
}

/** Task Scheduler refuses more triggers than this on one task. */
export const WINDOWS_MAX_TRIGGERS = 48;

/**
 * Task Scheduler CalendarTriggers. Triggers are ORed, so "either day field"
 * is two triggers; the times of day become one trigger with a repetition
 * when they are evenly spaced, else one trigger per time.
 */
export function toWindowsTriggers(spec: CronSpec): WindowsTrigger[] {
  const allMonths = spec.months.length === 12;
  const schedules: WindowsSchedule[] = [];
  if (spec.dayRule === 'every') {
    schedules.push(
      allMonths ? { kind: 'daily' } : { kind: 'monthly', days: range(1, 31), months: spec.months },
    );
  }
  if (spec.dayRule === 'dom' || spec.dayRule === 'either') {
    schedules.push({
      kind: 'monthly',
      days: [...spec.days, ...(spec.lastDay ? (['Last'] as const) : [])],
      months: spec.months,
    });
  }
  if (spec.dayRule === 'dow' || spec.dayRule === 'either') {
    schedules.push(
      allMonths
        ? { kind: 'weekly', weekdays: spec.weekdays }
        : { kind: 'monthlyDayOfWeek', weekdays: spec.weekdays, months: spec.months },
    );
  }
  const times = spec.hours.flatMap((h) => spec.minutes.map((m) => h * 60 + m));
  const hhmm = (t: number) => `${pad2(Math.floor(t / 60))}:${pad2(t % 60)}`;
  let perDay: Array<Omit<WindowsTrigger, 'schedule'>>;
  const step = times.length > 1 ? times[1]! - times[0]! : 0;
  if (times.length > 2 && times.every((t, i) => i === 0 || t - times[i - 1]! === step)) {
    perDay = [
      {
        time: hhmm(times[0]!),
        repetition: {
          intervalMinutes: step,
          durationMinutes: times[times.length - 1]! - times[0]! + 1,
        },
      },
    ];
  } else {
    perDay = times.map((t) => ({ time: hhmm(t) }));
  }
  const triggers = schedules.flatMap((schedule) => perDay.map((p) => ({ ...p, schedule })));
  if (triggers.length > WINDOWS_MAX_TRIGGERS) {
    refuse(
      'windows',
      spec,
      `it needs ${triggers.length} triggers and Task Scheduler allows ${WINDOWS_MAX_TRIGGERS}; use evenly spaced times (they become one repeating trigger)`,
    );
  }
  return triggers;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
