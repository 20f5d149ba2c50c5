import type { DocumentData, DocumentReference } from '@google-cloud/firestore';
import { BadInputError } from '../../core/errors.js';
import type { Limit } from '../../core/plans.js';
import type { Period } from '../../core/period.js';
import { isAtLimit } from '../../core/policy.js';
import { recordSchemas } from '../../core/backup-format.js';
import type { BackupRecord } from '../quota-store.js';
import { toRun } from './run-record.js';
import type { FsContext } from './context.js';
import {
  jsonText,
  COLLECTIONS,
  eventId,
  importSeq,
  iso,
  json,
  keyedEventId,
  legacyEnd,
  legacyLimitsMap,
  lifetimeField,
  limitsOf,
  operationAuditId,
  totalsOf,
  ts,
} from './layout.js';
import { baselineOf, pages, readAllSubjects, subjectOrder } from './snapshot.js';

const ms = (v: unknown) => Date.parse(String(v));

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

type Rec = BackupRecord & Record<string, unknown>;

/**
 * Loads validated records into an empty store. Every record is checked (its
 * shape and the subject it refers to) before the first write; if a write
 * fails, what was written is deleted again.
 */
export async function importFirestore(
  ctx: FsContext,
  records: readonly BackupRecord[],
): Promise<{ records: number }> {
  records.forEach((r, i) => {
    const schema = recordSchemas[r.type as keyof typeof recordSchemas];
    if (!schema) throw new BadInputError(`restore: unknown record type "${r.type}"`, 'restore');
    const parsed = schema.safeParse(r);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new BadInputError(
        `restore: record ${i + 1} (${r.type}).${issue.path.join('.')}: ${issue.message}`,
        'restore',
      );
    }
  });
  const [anySubject, anyRun] = await Promise.all([
    ctx.quotas().limit(1).get(),
    ctx.db.collection(COLLECTIONS.runs).limit(1).get(),
  ]);
  if (!anySubject.empty || !anyRun.empty) {
    throw new BadInputError(
      'restore: the target store is not empty; restore into a fresh database',
      'restore',
    );
  }
  const policy = ctx.policy;
  const base = Date.now();
  interface Build {
    rec: Rec;
    seq: string;
    counters: Map<number, { period: Period; used: Record<string, number> }>;
    closed: Map<number, Rec>;
    lifetime: Record<string, number>;
  }
  const subjects = new Map<string, Build>();
  const need = (id: unknown) => {
    const b = subjects.get(String(id));
    if (!b)
      throw new BadInputError(
        `restore: record refers to unknown subject "${String(id)}"`,
        'restore',
      );
    return b;
  };
  const writes: Array<{ ref: DocumentReference; data: DocumentData }> = [];
  records.forEach((raw, index) => {
    const r = raw as Rec;
    switch (r.type) {
      case 'subject':
        subjects.set(String(r.id), {
          rec: r,
          seq: importSeq(base, index),
          counters: new Map(),
          closed: new Map(),
          lifetime: {},
        });
        break;
      case 'counter': {
        const b = need(r.subject);
        const start = ms(r.periodStart);
        const c = b.counters.get(start) ?? {
          period: { startMs: start, endMs: ms(r.periodEnd), key: String(r.periodKey) },
          used: {},
        };
        c.used[String(r.feature)] = Number(r.used);
        b.counters.set(start, c);
        break;
      }
      case 'closed_period':
        need(r.subject).closed.set(ms(r.start), r);
        break;
      case 'event': {
        const b = need(r.subject);
        const seq = importSeq(base, index);
        const feature = String(r.feature);
        if (r.kind !== 'reset') b.lifetime[feature] = (b.lifetime[feature] ?? 0) + Number(r.delta);
        const start = ms(r.periodStart);
        const zone = (b.rec.timeZone as string | null) ?? null;
        const key = policy.periods.at({ timeZone: zone, anchorMs: ms(b.rec.anchor) }, start).key;
        const ref = ctx
          .eventsOf(String(r.subject))
          .doc(r.key ? keyedEventId(String(r.key)) : eventId(seq));
        writes.push({
          ref,
          data: {
            seq,
            user_uid: String(r.subject),
            kind: r.kind,
            feature,
            period_start: ts(start),
            period_end: ts(ms(r.periodEnd)),
            period_key: key,
            at: ts(ms(r.at)),
            timestamp: ts(ms(r.at)),
            amount: r.amount,
            delta: r.delta,
            used_after: r.usedAfter,
            limit: r.limit ?? null,
            key: r.key ?? null,
            outcome_json:
              r.outcome === null || r.outcome === undefined ? null : JSON.stringify(r.outcome),
            meta_json: r.meta === null || r.meta === undefined ? null : JSON.stringify(r.meta),
          },
        });
        break;
      }
      case 'run':
        writes.push({
          ref: ctx.runRef(String(r.key)),
          data: {
            key: r.key,
            status: r.status,
            started_at: ts(ms(r.startedAt)),
            finished_at: r.finishedAt ? ts(ms(r.finishedAt)) : null,
            attempts: r.attempts,
            holder: r.holder ?? null,
            period_start: r.periodStart ? ts(ms(r.periodStart)) : null,
            period_end: r.periodEnd ? ts(ms(r.periodEnd)) : null,
            checkpoint_json: JSON.stringify(r.checkpoint),
            error: r.error ?? null,
          },
        });
        break;
      case 'audit': {
        const seq = importSeq(base, index);
        const detail = r.detail as Record<string, unknown> | null;
        const op =
          r.action === 'subject.reset' &&
          r.subject &&
          detail &&
          typeof detail.operation === 'string'
            ? operationAuditId(String(r.subject), detail.operation, String(detail.period))
            : `a_${seq}`;
        writes.push({
          ref: ctx.auditCollection().doc(op),
          data: {
            seq,
            at: ts(ms(r.at)),
            action: r.action,
            subject: r.subject ?? null,
            detail_json:
              r.detail === null || r.detail === undefined ? null : JSON.stringify(r.detail),
            actor: typeof r.actor === 'string' ? r.actor : 'cli',
            before_json: jsonText(r.before),
            after_json: jsonText(r.after),
            reason: typeof r.reason === 'string' ? r.reason : null,
          },
        });
        break;
      }
    }
  });
  for (const [id, b] of subjects) writes.push(...subjectWrites(ctx, id, b));
  const bw = ctx.db.bulkWriter();
  const written: DocumentReference[] = [];
  let failure: unknown = null;
  bw.onWriteError((e) => e.failedAttempts < 5 && e.code !== 6);
  // BulkWriter sends when a batch fills or on close: collect the writes first, then close.
  const done = writes.map((w) =>
    bw.create(w.ref, w.data).then(
      () => written.push(w.ref),
      (e: unknown) => {
        failure ??= e;
      },
    ),
  );
  await bw.close();
  await Promise.all(done);
  if (failure) {
    const undo = ctx.db.bulkWriter();
    for (const ref of written) void undo.delete(ref).catch(() => undefined);
    await undo.close();
    throw failure;
  }
  return { records: records.length };

  function subjectWrites(
    c: FsContext,
    id: string,
    b: {
      rec: Rec;
      seq: string;
      counters: Map<number, { period: Period; used: Record<string, number> }>;
      closed: Map<number, Rec>;
      lifetime: Record<string, number>;
    },
  ): Array<{ ref: DocumentReference; data: DocumentData }> {
    const r = b.rec;
    const markStart = ms(r.closedThrough);
    const mark: Period = { startMs: markStart, endMs: ms(r.openEnd), key: String(r.openKey) };
    let current = mark;
    for (const cv of b.counters.values())
      if (cv.period.startMs > current.startMs) current = cv.period;
    const overrides = (r.overrides ?? {}) as Record<string, Limit>;
    const plan = String(r.plan);
    const lifetime: Record<string, unknown> = {};
    for (const f of policy.catalog.features)
      lifetime[lifetimeField(f)] = Math.max(0, b.lifetime[f] ?? 0);
    lifetime.member_since = ts(ms(r.createdAt));
    const name = r.name as string | null;
    const out: Array<{ ref: DocumentReference; data: DocumentData }> = [];
    out.push({
      ref: c.quotaRef(id),
      data: {
        user_uid: id,
        plan_type: plan,
        plan_updated_at: ts(ms(r.createdAt)),
        quota_limits: legacyLimitsMap(limitsOf(policy, plan, overrides)),
        current_usage: { ...(b.counters.get(current.startMs)?.used ?? {}) },
        current_period_start: ts(current.startMs),
        current_period_end: legacyEnd(current),
        last_reset: ts(current.startMs),
        created_at: ts(ms(r.createdAt)),
        updated_at: ts(ms(r.createdAt)),
        is_suspended: r.suspended === true,
        suspension_reason: r.suspendedReason ?? null,
        lifetime_stats: lifetime,
        ...(r.email ? { user_email: r.email } : {}),
        ...(name ? { user_display_name: name, user_displayName: name } : {}),
        quotaclock: {
          v: 1,
          seq: b.seq,
          overrides: { ...overrides },
          time_zone: r.timeZone ?? null,
          anchor: ts(ms(r.anchor)),
          baseline: null,
          ...(mark.startMs < current.startMs
            ? { open_start: ts(mark.startMs), open_end: ts(mark.endMs), open_key: mark.key }
            : {}),
        },
      },
    });
    const starts = new Set([...b.counters.keys(), ...b.closed.keys()]);
    for (const start of starts) {
      if (start === current.startMs) continue;
      const cv = b.counters.get(start);
      const cp = b.closed.get(start);
      const period: Period = cv?.period ?? {
        startMs: start,
        endMs: ms(cp!.end),
        key: String(cp!.key),
      };
      const used = cv?.used ?? {};
      const limits = (cp?.limits ?? {}) as Record<string, Limit>;
      const atLimit: Record<string, number> = {};
      for (const f of policy.catalog.features)
        atLimit[f] = isAtLimit(limits[f] ?? null, used[f] ?? 0) ? 1 : 0;
      const summary: Record<string, number> = {};
      for (const f of policy.catalog.features) summary[lifetimeField(f)] = used[f] ?? 0;
      out.push({
        ref: c.historyRef(id, period.key),
        data: {
          period: period.key,
          user_uid: id,
          updated_at: ts(cp ? ms(cp.closedAt) : period.endMs),
          summary,
          quotaclock: {
            key: period.key,
            start: ts(period.startMs),
            end: ts(period.endMs),
            used: { ...used },
            totals: totalsOf(policy, used),
            closed: !!cp,
            ...(cp
              ? {
                  closed_at: ts(ms(cp.closedAt)),
                  plan: String(cp.plan),
                  limits: { ...limits },
                  at_limit: atLimit,
                }
              : {}),
          },
        },
      });
    }
    return out;
  }
}
