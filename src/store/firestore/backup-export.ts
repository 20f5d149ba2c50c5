import type { BackupRecord } from '../quota-store.js';
import type { FsContext } from './context.js';
import { COLLECTIONS, iso, json } from './layout.js';
import { toRun } from './run-record.js';
import { baselineOf, pages, readAllSubjects, subjectOrder, type SubjectView } from './snapshot.js';

/**
 * Streams the store as the engine-neutral records every store exports, in
 * the same canonical order: subjects as created, counters by subject, period
 * and feature, events as written, closed periods by subject and start, runs
 * by key, audit as written. The earlier system's usage, which no event
 * explains, is exported as one consume event per period, so a restore into
 * SQL passes verify.
 */
export async function* exportFirestore(
  ctx: FsContext,
  nowMs: number,
): AsyncGenerator<BackupRecord> {
  const subjects = (await readAllSubjects(ctx, nowMs)).sort((a, b) => {
    const x = subjectOrder(a.doc);
    const y = subjectOrder(b.doc);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  yield* subjectRecords(subjects);
  yield* counterRecords(subjects);
  yield* baselineEvents(subjects);
  yield* storedEvents(ctx);
  yield* closedPeriodRecords(subjects);
  yield* runRecords(ctx);
  yield* auditRecords(ctx);
}

function* subjectRecords(subjects: readonly SubjectView[]): Generator<BackupRecord> {
  for (const { doc: d } of subjects) {
    const mark = d.stash ?? d.current;
    yield {
      type: 'subject',
      id: d.id,
      plan: d.plan,
      overrides: { ...d.overrides },
      suspended: d.suspended,
      suspendedReason: d.suspendedReason,
      timeZone: d.timeZone,
      anchor: iso(d.anchorMs),
      email: d.email,
      name: d.name,
      createdAt: iso(d.createdMs),
      closedThrough: iso(mark.startMs),
      openEnd: iso(mark.endMs),
      openKey: mark.key,
    };
  }
}

function* counterRecords(subjects: readonly SubjectView[]): Generator<BackupRecord> {
  for (const { doc: d, periods } of subjects) {
    for (const p of periods) {
      for (const feature of Object.keys(p.used).sort()) {
        yield {
          type: 'counter',
          subject: d.id,
          feature,
          periodStart: iso(p.period.startMs),
          periodEnd: iso(p.period.endMs),
          periodKey: p.period.key,
          used: p.used[feature]!,
        };
      }
    }
  }
}

/** The earlier system's usage that no event explains: one consume event per period and feature. */
function* baselineEvents(subjects: readonly SubjectView[]): Generator<BackupRecord> {
  for (const v of subjects) {
    for (const b of baselineOf(v).values()) {
      for (const feature of Object.keys(b.used).sort()) {
        const n = b.used[feature]!;
        if (n <= 0) continue;
        yield {
          type: 'event',
          subject: v.doc.id,
          kind: 'consume',
          feature,
          periodStart: iso(b.period.startMs),
          periodEnd: iso(b.period.endMs),
          at: iso(b.period.startMs),
          amount: n,
          delta: n,
          usedAfter: n,
          limit: null,
          key: null,
          outcome: null,
          meta: { source: 'userQuotas before quotaclock' },
        };
      }
    }
  }
}

async function* storedEvents(ctx: FsContext): AsyncGenerator<BackupRecord> {
  for await (const page of pages(ctx.db.collectionGroup(COLLECTIONS.events).orderBy('seq'), 1000)) {
    for (const s of page) {
      const e = s.data()!;
      yield {
        type: 'event',
        subject: s.ref.parent.parent!.id,
        kind: e.kind,
        feature: e.feature,
        periodStart: iso(e.period_start.toMillis()),
        periodEnd: iso(e.period_end.toMillis()),
        at: iso(e.at.toMillis()),
        amount: e.amount,
        delta: e.delta,
        usedAfter: e.used_after,
        limit: e.limit ?? null,
        key: e.key ?? null,
        outcome: json(e.outcome_json),
        meta: json(e.meta_json),
      };
    }
  }
}

function* closedPeriodRecords(subjects: readonly SubjectView[]): Generator<BackupRecord> {
  for (const { doc: d, periods } of subjects) {
    for (const p of periods) {
      if (!p.closed) continue;
      yield {
        type: 'closed_period',
        subject: d.id,
        start: iso(p.period.startMs),
        end: iso(p.period.endMs),
        key: p.period.key,
        plan: p.plan ?? d.plan,
        limits: p.limits ?? {},
        closedAt: iso(p.closedMs ?? p.period.endMs),
      };
    }
  }
}

async function* runRecords(ctx: FsContext): AsyncGenerator<BackupRecord> {
  const runs = await ctx.db.collection(COLLECTIONS.runs).get();
  for (const s of [...runs.docs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const r = toRun(s.id, s.data());
    yield {
      type: 'run',
      key: r.key,
      status: r.status,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      attempts: r.attempts,
      holder: r.holder,
      periodStart: r.periodStart,
      periodEnd: r.periodEnd,
      checkpoint: r.checkpoint,
      error: r.error,
    };
  }
}

async function* auditRecords(ctx: FsContext): AsyncGenerator<BackupRecord> {
  for await (const page of pages(ctx.auditCollection().orderBy('seq'), 1000)) {
    for (const s of page) {
      const a = s.data()!;
      yield {
        type: 'audit',
        at: iso(a.at.toMillis()),
        action: a.action,
        subject: a.subject ?? null,
        detail: json(a.detail_json),
        actor: typeof a.actor === 'string' ? a.actor : 'cli',
        before: json(a.before_json),
        after: json(a.after_json),
        reason: typeof a.reason === 'string' ? a.reason : null,
      };
    }
  }
}
