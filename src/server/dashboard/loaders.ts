import { Cron } from 'croner';
import { Temporal } from 'temporal-polyfill';
import { PeriodSchedule } from '../../core/period.js';
import { runReset } from '../../jobs/reset.js';
import type { QuotaClock } from '../../quotaclock.js';
import { buildUsageReport } from '../../report/usage-report.js';
import type { DailySeries } from './charts.js';
import type { AuditView } from './pages/audit.js';
import type { OverviewView } from './pages/overview.js';
import type { NextClose } from './pages/run-status.js';
import type { RunsView } from './pages/runs.js';
import type { SubjectRowView, SubjectsView, SubjectSort } from './pages/subjects.js';
import type { SubjectView } from './pages/subject.js';
import type { PlansView } from './pages/plans.js';
import { decodeUseCursor, rankByUse } from './use-ranking.js';

/**
 * Page data, read through the facade (the same calls the admin API makes).
 * Nothing here writes.
 */

export const PAGE_SIZE = 25;
const LEDGER_PAGE = 25;
/** How many of the current period's events the daily chart reads at most. */
const CHART_EVENTS = 2000;

export function nextClose(qc: QuotaClock, nowMs: number): NextClose | null {
  const { cron, timeZone } = qc.config.schedule;
  const next = new Cron(cron, { timezone: timeZone, paused: true }).nextRun(new Date(nowMs));
  return next ? { at: next.toISOString(), cron, zone: timeZone } : null;
}

export async function overviewData(qc: QuotaClock, nowMs: number): Promise<OverviewView> {
  const [report, runs] = await Promise.all([
    buildUsageReport(qc, { nowMs, top: 10 }),
    (await qc.store()).listRuns(1),
  ]);
  return { report, lastRun: runs[0] ?? null, nextClose: nextClose(qc, nowMs) };
}

function currentCalendarPeriod(qc: QuotaClock, nowMs: number) {
  return new PeriodSchedule(
    { ...qc.policy.rule, anchor: 'calendar' },
    { timeZone: null, anchorMs: nowMs },
  ).at(nowMs);
}

export interface SubjectsQuery {
  readonly q: string;
  readonly plan: string;
  readonly sort: SubjectSort;
  readonly after: string | undefined;
}

export async function subjectsData(
  qc: QuotaClock,
  query: SubjectsQuery,
  nowMs: number,
): Promise<SubjectsView> {
  const plans = qc.policy.catalog.planNames;
  const base = {
    q: query.q,
    plan: query.plan,
    sort: query.sort,
    plans,
    paged: Boolean(query.after),
  };
  const features = qc.policy.catalog.features;
  if (query.sort === 'use') {
    const store = await qc.store();
    if (!store.periodUsage) return { ...base, sort: 'id', rows: [], next: null };
    const period = currentCalendarPeriod(qc, nowMs);
    const page = await rankByUse(store.periodUsage(period.key, period.endMs), {
      after: decodeUseCursor(query.after),
      limit: PAGE_SIZE,
      ...(query.plan ? { plan: query.plan } : {}),
      ...(query.q ? { idPrefix: query.q } : {}),
    });
    const subjects = await Promise.all(page.items.map((u) => store.getSubject(u.subject)));
    const rows: SubjectRowView[] = page.items.map((u, i) => {
      const s = subjects[i];
      return {
        id: u.subject,
        email: s?.email ?? null,
        name: s?.name ?? null,
        plan: u.plan,
        suspended: s?.suspended ?? false,
        usage: features.map((f) => ({
          feature: f,
          used: u.used[f] ?? 0,
          limit: u.limits[f] ?? null,
        })),
      };
    });
    return { ...base, rows, next: page.next };
  }
  const page = await qc.listSubjects({
    limit: PAGE_SIZE,
    ...(query.after ? { after: query.after } : {}),
    ...(query.plan ? { plan: query.plan } : {}),
    ...(query.q ? { q: query.q } : {}),
  });
  const statuses = await Promise.all(page.items.map((s) => qc.status(s.id, { now: nowMs })));
  const rows: SubjectRowView[] = page.items.map((s, i) => ({
    id: s.id,
    email: s.email,
    name: s.name,
    plan: s.plan,
    suspended: s.suspended,
    usage: Object.entries(statuses[i]!.features).map(([feature, f]) => ({
      feature,
      used: f.used,
      limit: f.limit,
    })),
  }));
  return { ...base, rows, next: page.next };
}

/** Units per day of the current period, in the subject's zone, from its ledger (the subject page's chart). */
export async function subjectDaily(
  qc: QuotaClock,
  id: string,
  nowMs: number,
): Promise<DailySeries> {
  const { period, timeZone, features: byFeature } = await qc.status(id, { now: nowMs });
  const features = Object.keys(byFeature);
  const day = (ms: number) =>
    Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(timeZone).toPlainDate();
  const first = day(Date.parse(period.start));
  const last = day(Math.min(nowMs, Date.parse(period.end) - 1));
  const days: string[] = [];
  for (let d = first; Temporal.PlainDate.compare(d, last) <= 0; d = d.add({ days: 1 }))
    days.push(d.toString());
  const index = new Map(days.map((d, i) => [d, i]));
  const values = Object.fromEntries(features.map((f) => [f, days.map(() => 0)]));
  let after: string | null = null;
  let read = 0;
  outer: do {
    const page = await qc.subjectEvents(id, { limit: 500, ...(after ? { after } : {}) });
    for (const e of page.items) {
      if (e.periodKey !== period.key) break outer;
      const i = index.get(day(Date.parse(e.at)).toString());
      const series = values[e.feature];
      if (i === undefined || !series) continue;
      if (e.kind === 'consume' && e.granted !== false) series[i]! += e.amount;
      else if (e.kind === 'refund') series[i]! -= e.amount;
    }
    read += page.items.length;
    after = page.next;
  } while (after && read < CHART_EVENTS);
  return { days, series: features.map((f) => ({ name: f, values: values[f]! })) };
}

export interface SubjectQuery {
  readonly eventsAfter: string | undefined;
  readonly check: { feature: string; amount: number } | null;
}

export async function subjectData(
  qc: QuotaClock,
  id: string,
  query: SubjectQuery,
  nowMs: number,
): Promise<SubjectView> {
  const subject = await qc.getSubject(id);
  const [status, history, events] = await Promise.all([
    qc.status(id, { now: nowMs }),
    qc.history(id),
    qc.subjectEvents(id, {
      limit: LEDGER_PAGE,
      ...(query.eventsAfter ? { after: query.eventsAfter } : {}),
    }),
  ]);
  const check = query.check
    ? {
        ...query.check,
        result: await qc.check(id, query.check.feature, query.check.amount, { now: nowMs }),
      }
    : null;
  return {
    subject,
    status,
    history,
    events: { items: events.items, next: events.next, paged: Boolean(query.eventsAfter) },
    plans: qc.policy.catalog.planNames,
    check,
  };
}

export function plansData(qc: QuotaClock): PlansView {
  return {
    plans: qc.plans(),
    features: qc.policy.catalog.features,
    defaultPlan: qc.policy.catalog.defaultPlan,
    period: qc.policy.rule,
    retention: qc.policy.retentionPeriods,
  };
}

export async function runsData(qc: QuotaClock, preview: boolean, nowMs: number): Promise<RunsView> {
  const [runs, dry] = await Promise.all([
    (await qc.store()).listRuns(50),
    preview ? runReset(qc, { dryRun: true, now: nowMs }) : Promise.resolve(null),
  ]);
  return { runs, preview: dry, nextClose: nextClose(qc, nowMs) };
}

export async function auditData(
  qc: QuotaClock,
  query: { actor: string; subject: string; after: string | undefined },
): Promise<AuditView> {
  const page = await qc.audit.list({
    limit: 50,
    ...(query.after ? { after: query.after } : {}),
    ...(query.actor ? { actor: query.actor } : {}),
    ...(query.subject ? { subject: query.subject } : {}),
  });
  return {
    entries: page.items,
    next: page.next,
    actor: query.actor,
    subject: query.subject,
    paged: Boolean(query.after),
  };
}
