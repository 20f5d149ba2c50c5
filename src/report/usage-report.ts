import { hostname } from 'node:os';
import { Temporal } from 'temporal-polyfill';
import { BadInputError } from '../core/errors.js';
import type { Limit } from '../core/plans.js';
import { isAtLimit } from '../core/policy.js';
import { localToEpochMs, PeriodSchedule, toIso, type Period } from '../core/period.js';
import { calendarPeriodOfKey, isPeriodKeyOf } from '../core/period-key.js';
import type { QuotaClock } from '../quotaclock.js';
import type { QuotaStore, SubjectUsage } from '../store/quota-store.js';

export interface ReportOptions {
  /** A period key (2026-11); default: the current period. */
  readonly period?: string;
  /** A window of whole days before today: "7d", "2w". */
  readonly last?: string;
  /** How many top consumers and near-limit subjects to list. */
  readonly top?: number;
  readonly nowMs?: number;
}

export interface PlanUtilisation {
  readonly plan: string;
  readonly feature: string;
  /** The plan's limit; "mixed" when overrides differ between subjects. */
  readonly limit: Limit | 'mixed';
  readonly subjects: number;
  /** Subjects that used at least one unit. */
  readonly active: number;
  readonly used: number;
  /** Over subjects with a finite limit; null when there are none. */
  readonly meanPct: number | null;
  readonly medianPct: number | null;
  readonly atLimit: number;
  readonly unlimited: number;
}

export interface SubjectLine {
  readonly subject: string;
  readonly plan: string;
  readonly feature: string;
  readonly used: number;
  readonly limit: Limit;
  readonly pct: number | null;
}

export interface DayUsage {
  readonly day: string;
  /** Net units used per feature that day. */
  readonly used: Readonly<Record<string, number>>;
  readonly denied: number;
}

export interface Change {
  readonly current: number;
  readonly previous: number;
  /** null when the previous value was 0. */
  readonly changePct: number | null;
}

export interface UsageReport {
  readonly title: string;
  readonly generatedAt: string;
  readonly host: string;
  readonly timeZone: string;
  readonly scope: {
    readonly kind: 'period' | 'window';
    readonly label: string;
    readonly key?: string;
    readonly start: string;
    readonly end: string;
    /** false while the period is still running: figures are to date. */
    readonly complete: boolean;
  };
  readonly previous: {
    readonly label: string;
    readonly start: string;
    readonly end: string;
    readonly comparedUntil: string;
  };
  readonly features: readonly string[];
  readonly totals: {
    readonly subjects: number;
    readonly active: number;
    readonly used: number;
    readonly atLimit: number;
    readonly denied: number;
  };
  readonly plans: readonly PlanUtilisation[];
  readonly top: readonly SubjectLine[];
  readonly nearLimit: readonly SubjectLine[];
  /** Percent of the limit from which a subject is listed as near it (the lowest notify threshold). */
  readonly nearThreshold: number;
  readonly daily: readonly DayUsage[];
  readonly trend: {
    readonly used: Change;
    readonly active: Change;
    readonly atLimit: Change;
    readonly denied: Change;
  };
}

function calendarSchedule(qc: QuotaClock, nowMs: number): PeriodSchedule {
  return new PeriodSchedule(
    { ...qc.policy.rule, anchor: 'calendar' },
    { timeZone: null, anchorMs: nowMs },
  );
}

/** The calendar period (in the rule's zone) with this key. */
export function periodForKey(qc: QuotaClock, key: string, nowMs: number): Period {
  const every = qc.policy.rule.every;
  const example = calendarSchedule(qc, nowMs).at(nowMs).key;
  if (!isPeriodKeyOf(every, key)) {
    throw new BadInputError(
      `--period: "${key}" is not a ${every} period key (for example ${example})`,
      '--period',
    );
  }
  const period = calendarPeriodOfKey(qc.policy.rule, key);
  if (period === null)
    throw new BadInputError(`--period: "${key}" is not a valid ${every} period key`, '--period');
  return period;
}

export function parseWindow(text: string): number {
  const m = /^(\d{1,4})([dw])$/.exec(text);
  if (!m || Number(m[1]) < 1)
    throw new BadInputError(
      `--last: expected a number of days or weeks such as 7d or 2w, got "${text}"`,
      '--last',
    );
  return Number(m[1]) * (m[2] === 'w' ? 7 : 1);
}

function localDate(ms: number, zone: string): Temporal.PlainDate {
  return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).toPlainDate();
}

function startOfDay(date: Temporal.PlainDate, zone: string): number {
  return localToEpochMs(date.toPlainDateTime(), zone);
}

interface Scope {
  kind: 'period' | 'window';
  label: string;
  key?: string;
  startMs: number;
  endMs: number;
  complete: boolean;
  /** Figures are counted up to here (now, for a running period). */
  untilMs: number;
  previous: { label: string; key?: string; startMs: number; endMs: number; untilMs: number };
}

function resolveScope(qc: QuotaClock, opts: ReportOptions, nowMs: number): Scope {
  const zone = qc.policy.rule.timeZone;
  if (opts.period !== undefined && opts.last !== undefined) {
    throw new BadInputError('--period and --last: use one or the other', '--period');
  }
  if (opts.last !== undefined) {
    const days = parseWindow(opts.last);
    const today = localDate(nowMs, zone);
    const startMs = startOfDay(today.subtract({ days }), zone);
    const endMs = startOfDay(today, zone);
    const prevStart = startOfDay(today.subtract({ days: 2 * days }), zone);
    const from = today.subtract({ days });
    const to = today.subtract({ days: 1 });
    return {
      kind: 'window',
      label: `last ${days} day${days === 1 ? '' : 's'} (${from.toString()} to ${to.toString()})`,
      startMs,
      endMs,
      complete: true,
      untilMs: endMs,
      previous: {
        label: `the ${days} day${days === 1 ? '' : 's'} before`,
        startMs: prevStart,
        endMs: startMs,
        untilMs: startMs,
      },
    };
  }
  const schedule = calendarSchedule(qc, nowMs);
  const period =
    opts.period !== undefined ? periodForKey(qc, opts.period, nowMs) : schedule.at(nowMs);
  if (period.startMs > nowMs)
    throw new BadInputError(`--period: ${period.key} has not started yet`, '--period');
  const prev = schedule.before(period);
  const complete = period.endMs <= nowMs;
  const untilMs = complete ? period.endMs : nowMs;
  return {
    kind: 'period',
    label: complete ? period.key : `${period.key} (to date)`,
    key: period.key,
    startMs: period.startMs,
    endMs: period.endMs,
    complete,
    untilMs,
    previous: {
      label: prev.key,
      key: prev.key,
      startMs: prev.startMs,
      endMs: prev.endMs,
      // A running period is compared with the previous one at the same point.
      untilMs: complete
        ? prev.endMs
        : Math.min(prev.endMs, prev.startMs + (untilMs - period.startMs)),
    },
  };
}

class Aggregate {
  readonly byPlan = new Map<
    string,
    {
      plan: string;
      feature: string;
      limits: Set<string>;
      subjects: number;
      active: number;
      used: number;
      pcts: number[];
      atLimit: number;
      unlimited: number;
    }
  >();
  subjects = 0;
  active = 0;
  used = 0;
  atLimit = 0;
  top: SubjectLine[] = [];
  near: SubjectLine[] = [];

  constructor(
    private readonly features: readonly string[],
    private readonly topN: number,
    private readonly nearPct: number,
    private readonly lists: boolean,
  ) {}

  add(u: SubjectUsage, onlyUsedFeatures: boolean): void {
    this.subjects += 1;
    let active = false;
    let atLimit = false;
    for (const feature of this.features) {
      if (onlyUsedFeatures && !(feature in u.used)) continue;
      const used = u.used[feature] ?? 0;
      const limit: Limit = feature in u.limits ? u.limits[feature]! : null;
      const id = `${u.plan}\u0000${feature}`;
      let a = this.byPlan.get(id);
      if (!a) {
        a = {
          plan: u.plan,
          feature,
          limits: new Set(),
          subjects: 0,
          active: 0,
          used: 0,
          pcts: [],
          atLimit: 0,
          unlimited: 0,
        };
        this.byPlan.set(id, a);
      }
      a.subjects += 1;
      a.used += used;
      a.limits.add(String(limit));
      if (used > 0) {
        a.active += 1;
        active = true;
      }
      const pct = limit === null ? null : limit === 0 ? (used > 0 ? 100 : 0) : (used / limit) * 100;
      if (limit === null) a.unlimited += 1;
      else a.pcts.push(pct!);
      if (isAtLimit(limit, used) && limit !== 0) {
        a.atLimit += 1;
        atLimit = true;
      }
      this.used += used;
      if (!this.lists || used <= 0) continue;
      const line: SubjectLine = {
        subject: u.subject,
        plan: u.plan,
        feature,
        used,
        limit,
        pct: pct === null ? null : Math.round(pct * 10) / 10,
      };
      this.top.push(line);
      if (this.top.length > this.topN * 4) this.trimTop();
      if (pct !== null && pct >= this.nearPct) {
        this.near.push(line);
        if (this.near.length > this.topN * 4) this.trimNear();
      }
    }
    if (active) this.active += 1;
    if (atLimit) this.atLimit += 1;
  }

  trimTop(): void {
    this.top.sort((a, b) => b.used - a.used || (a.subject < b.subject ? -1 : 1));
    this.top.length = Math.min(this.top.length, this.topN);
  }

  trimNear(): void {
    this.near.sort(
      (a, b) => (b.pct ?? 0) - (a.pct ?? 0) || b.used - a.used || (a.subject < b.subject ? -1 : 1),
    );
    this.near.length = Math.min(this.near.length, this.topN);
  }

  plans(planOrder: readonly string[]): PlanUtilisation[] {
    const round = (x: number) => Math.round(x * 10) / 10;
    const rank = (p: string) => (planOrder.includes(p) ? planOrder.indexOf(p) : planOrder.length);
    return [...this.byPlan.values()]
      .sort(
        (a, b) =>
          rank(a.plan) - rank(b.plan) ||
          (a.plan < b.plan ? -1 : a.plan > b.plan ? 1 : a.feature < b.feature ? -1 : 1),
      )
      .map((a) => {
        const sorted = Float64Array.from(a.pcts).sort();
        const mid = sorted.length >> 1;
        const median =
          sorted.length === 0
            ? null
            : sorted.length % 2
              ? sorted[mid]!
              : (sorted[mid - 1]! + sorted[mid]!) / 2;
        const mean = sorted.length === 0 ? null : sorted.reduce((s, x) => s + x, 0) / sorted.length;
        const only = a.limits.size === 1 ? [...a.limits][0]! : null;
        return {
          plan: a.plan,
          feature: a.feature,
          limit: only === null ? 'mixed' : only === 'null' ? null : Number(only),
          subjects: a.subjects,
          active: a.active,
          used: a.used,
          meanPct: mean === null ? null : round(mean),
          medianPct: median === null ? null : round(median),
          atLimit: a.atLimit,
          unlimited: a.unlimited,
        };
      });
  }
}

async function aggregate(
  store: QuotaStore,
  scope: {
    kind: 'period' | 'window';
    key?: string;
    startMs: number;
    endMs: number;
    untilMs: number;
  },
  agg: Aggregate,
): Promise<void> {
  const rows =
    scope.kind === 'period'
      ? store.periodUsage(scope.key!, scope.endMs)
      : store.windowUsage(scope.startMs, scope.untilMs);
  for await (const u of rows) agg.add(u, scope.kind === 'window');
}

const BUCKET = 15 * 60_000;

async function dailyUsage(
  store: QuotaStore,
  startMs: number,
  untilMs: number,
  zone: string,
  features: readonly string[],
): Promise<DayUsage[]> {
  const buckets = untilMs > startMs ? await store.usageBuckets(startMs, untilMs, BUCKET) : [];
  const days = new Map<string, { used: Record<string, number>; denied: number }>();
  const first = localDate(startMs, zone);
  const last = localDate(Math.max(startMs, untilMs - 1), zone);
  for (let d = first; Temporal.PlainDate.compare(d, last) <= 0; d = d.add({ days: 1 })) {
    days.set(d.toString(), { used: Object.fromEntries(features.map((f) => [f, 0])), denied: 0 });
  }
  const fmt = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  for (const b of buckets) {
    const day = fmt.format(new Date(b.startMs));
    const e = days.get(day);
    if (!e) continue;
    e.used[b.feature] = (e.used[b.feature] ?? 0) + b.used;
    e.denied += b.denied;
  }
  return [...days.entries()].map(([day, v]) => ({ day, used: v.used, denied: v.denied }));
}

const change = (current: number, previous: number): Change => ({
  current,
  previous,
  changePct: previous === 0 ? null : Math.round(((current - previous) / previous) * 1000) / 10,
});

/**
 * Builds the usage report: per-plan utilisation, top consumers, subjects
 * near their limit, usage per day, and the trend against the previous
 * period (for a running period, against the previous one at the same point).
 */
export async function buildUsageReport(
  qc: QuotaClock,
  opts: ReportOptions = {},
): Promise<UsageReport> {
  const nowMs = opts.nowMs ?? qc.now();
  const topN = opts.top ?? 10;
  if (!Number.isInteger(topN) || topN < 1 || topN > 1000)
    throw new BadInputError('--top: expected a whole number from 1 to 1000', '--top');
  const scope = resolveScope(qc, opts, nowMs);
  const store = await qc.store();
  const zone = qc.policy.rule.timeZone;
  const features = qc.policy.catalog.features;
  const nearPct = qc.config.notify.thresholds[0] ?? 80;

  const cur = new Aggregate(features, topN, nearPct, true);
  await aggregate(store, scope, cur);
  cur.trimTop();
  cur.trimNear();
  const prev = new Aggregate(features, topN, nearPct, false);
  const prevScope = scope.previous;
  await aggregate(
    store,
    {
      kind: scope.kind,
      ...(prevScope.key ? { key: prevScope.key } : {}),
      startMs: prevScope.startMs,
      endMs: prevScope.endMs,
      untilMs: prevScope.untilMs,
    },
    prev,
  );

  const daily = await dailyUsage(store, scope.startMs, scope.untilMs, zone, features);
  const prevDaily = await dailyUsage(store, prevScope.startMs, prevScope.untilMs, zone, features);
  const sumUsed = (days: readonly DayUsage[]) =>
    days.reduce((s, d) => s + Object.values(d.used).reduce((a, b) => a + b, 0), 0);
  const denied = daily.reduce((s, d) => s + d.denied, 0);
  const prevDenied = prevDaily.reduce((s, d) => s + d.denied, 0);
  // A running period compares usage to date with the previous period at the same point (from events);
  // a finished one compares whole periods.
  const usedNow = scope.kind === 'period' && !scope.complete ? sumUsed(daily) : cur.used;
  const usedPrev = scope.kind === 'period' && !scope.complete ? sumUsed(prevDaily) : prev.used;

  const title =
    scope.kind === 'period'
      ? `Quota usage report: ${scope.key}${scope.complete ? '' : ' (to date)'}`
      : `Quota usage report: ${scope.label}`;
  return {
    title,
    generatedAt: toIso(nowMs),
    host: hostname(),
    timeZone: zone,
    scope: {
      kind: scope.kind,
      label: scope.label,
      ...(scope.key ? { key: scope.key } : {}),
      start: toIso(scope.startMs),
      end: toIso(scope.endMs),
      complete: scope.complete,
    },
    previous: {
      label: prevScope.label,
      start: toIso(prevScope.startMs),
      end: toIso(prevScope.endMs),
      comparedUntil: toIso(prevScope.untilMs),
    },
    features,
    totals: {
      subjects: cur.subjects,
      active: cur.active,
      used: cur.used,
      atLimit: cur.atLimit,
      denied,
    },
    plans: cur.plans(qc.policy.catalog.planNames),
    top: cur.top,
    nearLimit: cur.near,
    nearThreshold: nearPct,
    daily,
    trend: {
      used: change(usedNow, usedPrev),
      active: change(cur.active, prev.active),
      atLimit: change(cur.atLimit, prev.atLimit),
      denied: change(denied, prevDenied),
    },
  };
}
