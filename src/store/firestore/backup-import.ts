import type { DocumentReference } from '@google-cloud/firestore';
import { recordSchemas } from '../../core/backup-format.js';
import { BadInputError } from '../../core/errors.js';
import type { BackupRecord } from '../quota-store.js';
import {
  ms,
  subjectWrites,
  type DocWrite,
  type Rec,
  type RestoredSubject,
} from './backup-subject-writes.js';
import type { FsContext } from './context.js';
import { dropped } from '../shared/debug-log.js';
import {
  COLLECTIONS,
  eventId,
  importSeq,
  jsonText,
  keyedEventId,
  operationAuditId,
  ts,
} from './layout.js';

/**
 * Loads validated records into an empty store. Every record is checked (its
 * shape and the subject it refers to) before the first write; if a write
 * fails, what was written is deleted again.
 */
export async function importFirestore(
  ctx: FsContext,
  records: readonly BackupRecord[],
): Promise<{ records: number }> {
  validateRecords(records);
  await refuseNonEmpty(ctx);
  const { subjects, writes } = gatherWrites(ctx, records, Date.now());
  for (const [id, b] of subjects) writes.push(...subjectWrites(ctx, id, b));
  await createAllOrNone(ctx, writes);
  return { records: records.length };
}

function validateRecords(records: readonly BackupRecord[]): void {
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
}

async function refuseNonEmpty(ctx: FsContext): Promise<void> {
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
}

/**
 * Turns the records into documents to create: events, runs and audit
 * entries directly; subjects' counters and closed periods gathered per
 * subject, for subjectWrites. `base` orders the restored sequence numbers.
 */
function gatherWrites(
  ctx: FsContext,
  records: readonly BackupRecord[],
  base: number,
): { subjects: Map<string, RestoredSubject>; writes: DocWrite[] } {
  const subjects = new Map<string, RestoredSubject>();
  const need = (id: unknown) => {
    const b = subjects.get(String(id));
    if (!b)
      throw new BadInputError(
        `restore: record refers to unknown subject "${String(id)}"`,
        'restore',
      );
    return b;
  };
  const writes: DocWrite[] = [];
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
      case 'counter':
        addCounter(need(r.subject), r);
        break;
      case 'closed_period':
        need(r.subject).closed.set(ms(r.start), r);
        break;
      case 'event':
        writes.push(eventWrite(ctx, need(r.subject), r, importSeq(base, index)));
        break;
      case 'run':
        writes.push(runWrite(ctx, r));
        break;
      case 'audit':
        writes.push(auditWrite(ctx, r, importSeq(base, index)));
        break;
    }
  });
  return { subjects, writes };
}

function addCounter(b: RestoredSubject, r: Rec): void {
  const start = ms(r.periodStart);
  const c = b.counters.get(start) ?? {
    period: { startMs: start, endMs: ms(r.periodEnd), key: String(r.periodKey) },
    used: {},
  };
  c.used[String(r.feature)] = Number(r.used);
  b.counters.set(start, c);
}

/** An event document; also adds its delta to the subject's lifetime totals (resets excluded). */
function eventWrite(ctx: FsContext, b: RestoredSubject, r: Rec, seq: string): DocWrite {
  const feature = String(r.feature);
  if (r.kind !== 'reset') b.lifetime[feature] = (b.lifetime[feature] ?? 0) + Number(r.delta);
  const start = ms(r.periodStart);
  const zone = (b.rec.timeZone as string | null) ?? null;
  const key = ctx.policy.periods.at({ timeZone: zone, anchorMs: ms(b.rec.anchor) }, start).key;
  const ref = ctx
    .eventsOf(String(r.subject))
    .doc(r.key ? keyedEventId(String(r.key)) : eventId(seq));
  return {
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
  };
}

function runWrite(ctx: FsContext, r: Rec): DocWrite {
  return {
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
  };
}

/** An audit document; a manual reset's entry keeps the id that makes its operation idempotent. */
function auditWrite(ctx: FsContext, r: Rec, seq: string): DocWrite {
  const detail = r.detail as Record<string, unknown> | null;
  const op =
    r.action === 'subject.reset' && r.subject && detail && typeof detail.operation === 'string'
      ? operationAuditId(String(r.subject), detail.operation, String(detail.period))
      : `a_${seq}`;
  return {
    ref: ctx.auditCollection().doc(op),
    data: {
      seq,
      at: ts(ms(r.at)),
      action: r.action,
      subject: r.subject ?? null,
      detail_json: r.detail === null || r.detail === undefined ? null : JSON.stringify(r.detail),
      actor: typeof r.actor === 'string' ? r.actor : 'cli',
      before_json: jsonText(r.before),
      after_json: jsonText(r.after),
      reason: typeof r.reason === 'string' ? r.reason : null,
    },
  };
}

/** Creates every document, or, if one fails, deletes those that were created and rethrows. */
async function createAllOrNone(ctx: FsContext, writes: readonly DocWrite[]): Promise<void> {
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
    for (const ref of written) {
      void undo
        .delete(ref)
        .catch(
          dropped(
            `deleting ${ref.path} after a failed restore`,
            'the restore still fails, and a later one refuses a store left non-empty',
          ),
        );
    }
    await undo.close();
    throw failure;
  }
}
