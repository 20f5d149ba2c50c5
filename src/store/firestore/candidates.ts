import {
  FieldPath,
  Timestamp,
  type Query,
  type QueryDocumentSnapshot,
} from '@google-cloud/firestore';
import type { FsContext } from './context.js';
import { markOf, parseQuotaDoc, ts, type QuotaDoc } from './layout.js';

/** The earliest instant Firestore stores; every timestamp value is at or after it. */
const MIN_TIMESTAMP = new Timestamp(-62_135_596_800, 0);

/** How long a "none lack it" answer is reused: such documents only come from hand edits. */
const UNPLACED_TTL_MS = 60_000;

/**
 * Whether some user documents lack a current_period_end timestamp (two count
 * aggregations). A negative answer is reused for a minute, so one reset run
 * asks once; a document edited in by hand meanwhile is found by the next run.
 */
export async function hasUnplaced(ctx: FsContext): Promise<boolean> {
  const cached = ctx.unplacedNone;
  if (cached !== null && Date.now() - cached < UNPLACED_TTL_MS) return false;
  const [all, placed] = await Promise.all([
    ctx.quotas().count().get(),
    ctx.quotas().where('current_period_end', '>=', MIN_TIMESTAMP).count().get(),
  ]);
  const some = all.data().count !== placed.data().count;
  ctx.unplacedNone = some ? null : Date.now();
  return some;
}

/**
 * Finding the subjects whose first open period has ended, without a field
 * every document carries for it: the earlier system's documents have only
 * current_period_end. Three scans cover every case:
 *
 *   C: current_period_end < now, ordered by (current_period_end, id): documents
 *      whose current period ended and that have no older open period;
 *   S: quotaclock.open_* (the "stash"), present only while an older period
 *      than the current one is still open, after a consume rolled the
 *      document over before the job closed it;
 *   U: documents the old code left without a current_period_end timestamp,
 *      which no range query returns: found by a full scan, run only when two
 *      count aggregations (all documents, documents with the field) differ.
 *      Closing such a document writes the field, so this happens once.
 *
 * A document in both C and S is taken from S. The exact test (mark end ≤ now,
 * key) is made here on each document, so the scans only need to be supersets.
 */
export type Phase = 'c' | 's' | 'u';

export interface ScanCursor {
  readonly phase: Phase;
  /** Phase C: last (current_period_end, id) seen. */
  readonly t?: readonly [number, number];
  /** Last id seen. */
  readonly id?: string;
}

export const START: ScanCursor = { phase: 'c' };

export function encodeCursor(c: ScanCursor | null): string | null {
  return c === null ? null : JSON.stringify(c);
}

export function decodeCursor(text: string | null): ScanCursor {
  if (text === null) return START;
  try {
    const c = JSON.parse(text) as ScanCursor;
    if (c.phase === 'c' || c.phase === 's' || c.phase === 'u') return c;
  } catch {
    // An unreadable cursor (from another engine) restarts the scan; closing is idempotent.
  }
  return START;
}

export interface ScanPage {
  readonly docs: QuotaDoc[];
  /** Documents read, including skipped ones. */
  readonly scanned: number;
  readonly next: ScanCursor | null;
}

export interface ScanFilter {
  /** Only documents whose first open period has this key (phase S uses an equality query for it). */
  readonly key?: string;
  /** Phase S: only stashes whose end is ≤ this (preview, pending). */
  readonly stashEndedBy?: number;
  /** Fields to read; all when absent. */
  readonly select?: readonly string[];
}

/**
 * One page of at most `limit` documents, crossing from phase C into S when
 * C runs out. Returned documents have their first open period ended by nowMs
 * (and the key, when asked).
 */
export async function scanPage(
  ctx: FsContext,
  nowMs: number,
  cursor: ScanCursor,
  limit: number,
  filter: ScanFilter = {},
): Promise<ScanPage> {
  const docs: QuotaDoc[] = [];
  let scanned = 0;
  let c: ScanCursor | null = cursor;
  while (c !== null && scanned < limit) {
    const room = limit - scanned;
    let q: Query;
    if (c.phase === 'u' && c.id === undefined && !(await hasUnplaced(ctx))) {
      c = null;
      break;
    }
    if (c.phase === 'u') {
      q = ctx.quotas().orderBy(FieldPath.documentId());
      if (c.id) q = q.startAfter(c.id);
    } else if (c.phase === 'c') {
      q = ctx
        .quotas()
        .where('current_period_end', '<', ts(nowMs))
        .orderBy('current_period_end')
        .orderBy(FieldPath.documentId());
      if (c.t && c.id) q = q.startAfter(new Timestamp(c.t[0], c.t[1]), c.id);
    } else {
      q =
        filter.key !== undefined
          ? ctx
              .quotas()
              .where('quotaclock.open_key', '==', filter.key)
              .orderBy(FieldPath.documentId())
          : ctx
              .quotas()
              .where('quotaclock.open_end', '<=', ts(filter.stashEndedBy ?? nowMs))
              .orderBy('quotaclock.open_end')
              .orderBy(FieldPath.documentId());
      if (c.id) {
        if (filter.key !== undefined) q = q.startAfter(c.id);
        else if (c.t) q = q.startAfter(new Timestamp(c.t[0], c.t[1]), c.id);
      }
    }
    if (filter.select) q = q.select(...filter.select);
    // One document more than there is room for tells whether this phase goes on,
    // so a phase that ends exactly at a page boundary needs no further query.
    const fetched = (await q.limit(room + 1).get()).docs;
    const more = fetched.length > room;
    const snaps = more ? fetched.slice(0, room) : fetched;
    scanned += snaps.length;
    for (const snap of snaps) {
      if (c.phase === 'u' && snap.get('current_period_end') instanceof Timestamp) continue;
      const d = parseQuotaDoc(ctx.policy, snap, nowMs);
      if (c.phase === 'c' && d.stash) continue;
      const mark = markOf(d);
      if (mark.endMs > nowMs) continue;
      if (filter.key !== undefined && mark.key !== filter.key) continue;
      docs.push(d);
    }
    const last: QueryDocumentSnapshot | undefined = snaps[snaps.length - 1];
    if (!more) {
      c = c.phase === 'c' ? { phase: 's' } : c.phase === 's' ? { phase: 'u' } : null;
    } else {
      c = { phase: c.phase, id: last!.id, ...(cursorTime(c.phase, filter, last!) ?? {}) };
    }
  }
  return { docs, scanned, next: c };
}

function cursorTime(phase: Phase, filter: ScanFilter, snap: QueryDocumentSnapshot) {
  const field =
    phase === 'c' ? 'current_period_end' : filter.key === undefined ? 'quotaclock.open_end' : null;
  if (!field) return null;
  const v = snap.get(field) as Timestamp | undefined;
  return v instanceof Timestamp ? { t: [v.seconds, v.nanoseconds] as const } : null;
}

/** Every document whose first open period has ended (optionally with one key), page by page. */
export async function* scanAll(
  ctx: FsContext,
  nowMs: number,
  filter: ScanFilter = {},
  pageSize = 5000,
): AsyncGenerator<QuotaDoc> {
  let cursor: ScanCursor | null = START;
  while (cursor !== null) {
    const page = await scanPage(ctx, nowMs, cursor, pageSize, filter);
    yield* page.docs;
    cursor = page.next;
  }
}

/** The fields the scans need to place a document in time; the rest stays on the server. */
export const PLACEMENT_FIELDS = [
  'current_period_start',
  'current_period_end',
  'last_reset',
  'updated_at',
  'created_at',
  'lifetime_stats.member_since',
  'quotaclock.open_start',
  'quotaclock.open_end',
  'quotaclock.open_key',
  'quotaclock.time_zone',
  'quotaclock.anchor',
] as const;

/** What closing a subject reads: placement, plan and limits, counters, and quotaclock's map. */
export const CLOSE_FIELDS = [
  ...PLACEMENT_FIELDS.filter((f) => !f.startsWith('quotaclock.')),
  'user_uid',
  'plan_type',
  'quota_limits',
  'current_usage',
  'lifetime_stats',
  'quotaclock',
] as const;
