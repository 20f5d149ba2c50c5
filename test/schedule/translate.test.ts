import { spawnSync } from 'node:child_process';
import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { fieldText, parseCron, type CronSpec } from '../../src/schedule/cron-spec.js';
import {
  toAwsCron,
  toNcrontab,
  toStandardCron,
  toSystemdCalendar,
  toWindowsTriggers,
  type WindowsTrigger,
} from '../../src/schedule/translate.js';
import { requireTool } from './helpers.js';

/** Expressions each dialect must reproduce exactly (same instants), where it can express them. */
const EXPRESSIONS = [
  '1 0 1 * *',
  '*/15 * * * *',
  '0 9 * * 1-5',
  '0 0 L * *',
  '30 4 1,15 * 5',
  '5,20,35,50 8-18 * 1-6 0,6',
  '0 0 1 1,4,7,10 *',
  '@weekly',
  '@daily',
  '@monthly',
  '0 0 29 2 *',
  '15 10 * * 0',
  '0 6,18 * * *',
  '7 3 1-7 * *',
  '0 0 L 2 *',
  '45 23 31 * *',
  '0 12 * 6 *',
  '10 8 1,L * *',
  '0 0 13 * 5',
  '*/20 9-17 * * 1-5',
];

const START = Date.UTC(2026, 0, 1);
/** croner counts runs strictly after this, so START itself is included. */
const BEFORE_START = START - 1000;
const N = 60;

/** The reference: croner, the parser the config schema and the daemon use. */
function reference(expression: string, timeZone = 'UTC', n = N, from = BEFORE_START): number[] {
  return new Cron(expression, { timezone: timeZone, paused: true })
    .nextRuns(n, new Date(from))
    .map((d) => d.getTime());
}

function runsOf(expression: string, options: ConstructorParameters<typeof Cron>[1] = {}): number[] {
  return new Cron(expression, { timezone: 'UTC', paused: true, ...options })
    .nextRuns(N, new Date(BEFORE_START))
    .map((d) => d.getTime());
}

function tryTranslate(fn: () => string): string | null {
  try {
    return fn();
  } catch (e) {
    expect((e as { code?: string }).code).toBe('SCHEDULE_UNSUPPORTED');
    return null;
  }
}

/** Task Scheduler's rules for CalendarTriggers, evaluated day by day (UTC). */
function windowsRuns(triggers: readonly WindowsTrigger[], from: number, to: number): number[] {
  const out = new Set<number>();
  for (let day = from; day < to; day += 86_400_000) {
    const d = new Date(day);
    const month = d.getUTCMonth() + 1;
    const date = d.getUTCDate();
    const weekday = d.getUTCDay();
    const last = new Date(Date.UTC(d.getUTCFullYear(), month, 0)).getUTCDate();
    for (const t of triggers) {
      const s = t.schedule;
      const matches =
        s.kind === 'daily' ||
        (s.kind === 'monthly' &&
          s.months.includes(month) &&
          s.days.some((x) => x === date || (x === 'Last' && date === last))) ||
        (s.kind === 'weekly' && s.weekdays.includes(weekday)) ||
        (s.kind === 'monthlyDayOfWeek' && s.months.includes(month) && s.weekdays.includes(weekday));
      if (!matches) continue;
      const [h, m] = t.time.split(':').map(Number) as [number, number];
      const start = day + (h * 60 + m) * 60_000;
      if (!t.repetition) out.add(start);
      else
        for (let k = 0; k * t.repetition.intervalMinutes < t.repetition.durationMinutes; k += 1)
          out.add(start + k * t.repetition.intervalMinutes * 60_000);
    }
  }
  return [...out].sort((a, b) => a - b);
}

function systemdRuns(events: readonly string[], n: number, from: number): number[] {
  const r = spawnSync(
    'systemd-analyze',
    ['calendar', `--iterations=${n}`, `--base-time=@${Math.floor(from / 1000) - 1}`, ...events],
    {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
    },
  );
  expect(r.status, r.stderr).toBe(0);
  const times = [
    ...r.stdout.matchAll(
      /(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC/g,
    ),
  ].map((m) => Date.parse(`${m[1]!.replace(' ', 'T')}Z`));
  return [...new Set(times)].sort((a, b) => a - b).slice(0, n);
}

describe('parseCron', () => {
  it('reads the fields through croner, nicknames included', () => {
    const spec = parseCron('@monthly');
    expect(spec.fields).toEqual(['0', '0', '1', '*', '*']);
    expect(spec.dayRule).toBe('dom');
    expect(spec.days).toEqual([1]);
  });

  it('knows which day rule applies', () => {
    expect(parseCron('0 0 * * *').dayRule).toBe('every');
    expect(parseCron('0 0 1 * *').dayRule).toBe('dom');
    expect(parseCron('0 0 * * 1').dayRule).toBe('dow');
    expect(parseCron('0 0 1 * 1').dayRule).toBe('either');
    expect(parseCron('0 0 1-31 * 1').dayRule).toBe('every');
    expect(parseCron('0 0 ? * 1').dayRule).toBe('dow');
  });

  it.each([
    ['0 0 0 1 * *', /expected 5 fields/],
    ['0 0 1 1 * 2030', /not a valid cron expression|expected 5 fields/],
    ['0 0 15W * *', /nearest-weekday/],
    ['0 0 * * 5#2', /nth-weekday/],
    ['0 0 * * 5L', /nth-weekday/],
    ['0 0 */2 * 1', /disagree/],
    ['0 0 * * +1', /croner-only/],
  ])('refuses %s with a coded error', (expression, message) => {
    let error: { code?: string; message: string } | undefined;
    try {
      parseCron(expression);
    } catch (e) {
      error = e as { code?: string; message: string };
    }
    expect(error?.message).toMatch(message);
    expect(['SCHEDULE_UNSUPPORTED', 'BAD_INPUT']).toContain(error?.code);
    expect(error?.message).toContain('--cron');
  });

  it('refuses garbage and an expression that never fires as bad input', () => {
    expect(() => parseCron('every monday')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => parseCron('0 0 31 2 *')).toThrow(/never fires/);
  });
});

describe('fieldText', () => {
  const style = {
    min: 0,
    max: 59,
    range: '-',
    step: (s: number, st: number) => (s === 0 ? `*/${st}` : `${s}-59/${st}`),
  };
  it('writes *, steps, ranges and lists', () => {
    expect(
      fieldText(
        Array.from({ length: 60 }, (_, i) => i),
        style,
      ),
    ).toBe('*');
    expect(fieldText([0, 15, 30, 45], style)).toBe('*/15');
    expect(fieldText([5, 20, 35, 50], style)).toBe('5-59/15');
    expect(fieldText([1, 2, 3, 7, 9, 10], style)).toBe('1-3,7,9,10');
    expect(fieldText([4], style)).toBe('4');
  });
});

describe('every dialect fires at exactly the instants croner computes', () => {
  for (const expression of EXPRESSIONS) {
    const spec: CronSpec = parseCron(expression);
    const expected = reference(expression);

    it(`standard cron (cron, k8s, gcp): ${expression}`, () => {
      const out = tryTranslate(() => toStandardCron(spec));
      if (out === null) return expect(spec.lastDay).toBe(true);
      expect(runsOf(out)).toEqual(expected);
    });

    it(`EventBridge: ${expression}`, () => {
      const out = tryTranslate(() => toAwsCron(spec));
      if (out === null)
        return expect(spec.dayRule === 'either' || (spec.lastDay && spec.days.length > 0)).toBe(
          true,
        );
      const m = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) \*\)$/.exec(out);
      expect(m, out).not.toBeNull();
      expect([m![3], m![5]]).toContain('?');
      expect(runsOf(m!.slice(1, 6).join(' '), { sloppyRanges: true })).toEqual(expected);
    });

    it(`NCRONTAB: ${expression}`, () => {
      const out = tryTranslate(() => toNcrontab(spec));
      if (out === null) return expect(spec.dayRule === 'either' || spec.lastDay).toBe(true);
      expect(out.split(' ')).toHaveLength(6);
      expect(out.startsWith('0 ')).toBe(true);
      expect(runsOf(out)).toEqual(expected);
    });

    it(`Task Scheduler: ${expression}`, () => {
      let triggers: WindowsTrigger[];
      try {
        triggers = toWindowsTriggers(spec);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('SCHEDULE_UNSUPPORTED');
        return;
      }
      const until = expected[expected.length - 1]! + 1;
      expect(windowsRuns(triggers, START, until).filter((t) => t < until)).toEqual(expected);
    });
  }

  it('the reset schedule is one monthly trigger on day 1, never a daily one', () => {
    const triggers = toWindowsTriggers(parseCron('1 0 1 * *'));
    expect(triggers).toHaveLength(1);
    expect(triggers[0]).toMatchObject({ time: '00:01', schedule: { kind: 'monthly', days: [1] } });
    expect(triggers[0]!.repetition).toBeUndefined();
  });

  it('the defaults are the documented ones', () => {
    const spec = parseCron('1 0 1 * *');
    expect(toAwsCron(spec)).toBe('cron(1 0 1 * ? *)');
    expect(toNcrontab(spec)).toBe('0 1 0 1 * *');
    expect(toSystemdCalendar(spec, 'UTC')).toEqual(['*-*-01 00:01:00 UTC']);
    expect(toStandardCron(spec)).toBe('1 0 1 * *');
  });

  it('too many distinct times for Task Scheduler is a clear error', () => {
    expect(() => toWindowsTriggers(parseCron('1,7,13,22,41,58 */2 * * *'))).toThrow(
      /Task Scheduler allows 48/,
    );
  });
});

describe('systemd OnCalendar, checked by systemd-analyze calendar', () => {
  const missing = requireTool('systemd-analyze');
  for (const [expression, zone] of [
    ...EXPRESSIONS.map((e) => [e, 'UTC'] as const),
    ['1 0 1 * *', 'Europe/Berlin'],
    ['0 9 * * 1-5', 'America/New_York'],
    ['0 0 L * *', 'Australia/Sydney'],
  ] as const) {
    it.skipIf(missing !== null)(`${expression} in ${zone}`, () => {
      const events = toSystemdCalendar(parseCron(expression), zone);
      const expected = reference(expression, zone, 40);
      expect(systemdRuns(events, 40, START)).toEqual(expected);
    });
  }
});
