import type { BulkWriter } from '@google-cloud/firestore';
import { addUsage, type CloseTotals } from '../../core/close-summary.js';
import { closeBulkWriter } from './bulk-writer.js';
import { GRPC, grpcCode } from './client.js';
import { historyMap, markFields, prepareClosings, type Closing } from './close-prepare.js';
import type { FsContext } from './context.js';
import { historyWrite, markOf, parseQuotaDoc, type QuotaDoc } from './layout.js';

/** Rounds of re-reading documents that changed under a batch before giving up on the batch. */
const MAX_ROUNDS = 20;

/**
 * Closes one batch with the BulkWriter, in two waves: every history
 * document first (created, or updated only if unchanged since read), then
 * every user document, each only if unchanged since it was read. A document
 * that changed (a consume, a refund, another closer) is read again and
 * closed again if it still has this period open; one that no longer has it
 * is left alone. The history write precedes the move, so a kill between the
 * two leaves the period open and the rerun rewrites the same history.
 */
export async function closeDocs(
  ctx: FsContext,
  bulkOpsPerSecond: number,
  key: string,
  docs: QuotaDoc[],
  nowMs: number,
): Promise<{ closed: number; summary: CloseTotals }> {
  const summary: CloseTotals = {};
  let closed = 0;
  let pending = await prepareClosings(ctx, docs);
  for (let round = 0; pending.length > 0; round += 1) {
    if (round >= MAX_ROUNDS) {
      throw new Error(
        `closing ${key}: ${pending.length} documents kept changing under the close; rerun the reset`,
      );
    }
    const retry = new Set<string>();
    const bw = closeBulkWriter(ctx, bulkOpsPerSecond);
    const wave1 = writeHistories(ctx, bw, pending, nowMs, retry);
    await bw.flush();
    const ok1 = await Promise.all(wave1);
    const moving = pending.filter((_, i) => ok1[i]);
    const wave2 = moveMarks(ctx, bw, moving, nowMs, retry);
    await bw.close();
    const ok2 = await Promise.all(wave2);
    moving.forEach((c, i) => {
      if (!ok2[i]) return;
      closed += 1;
      for (const f of ctx.policy.catalog.features) {
        addUsage(summary, c.doc.plan, f, c.used[f] ?? 0, c.limits[f] ?? null);
      }
    });
    if (retry.size === 0) break;
    pending = await readAgain(ctx, [...retry], key, nowMs);
  }
  return { closed, summary };
}

/** Wave one: each subject's history document of the period; true where it was written. */
function writeHistories(
  ctx: FsContext,
  bw: BulkWriter,
  pending: readonly Closing[],
  nowMs: number,
  retry: Set<string>,
): Array<Promise<boolean>> {
  return pending.map((c) => {
    const w = historyWrite(
      ctx.policy,
      c.doc.id,
      c.mark,
      c.used,
      nowMs,
      historyMap(ctx.policy, c, nowMs),
    );
    const ref = ctx.historyRef(c.doc.id, c.mark.key);
    const write = c.history?.exists
      ? bw.update(ref, flatten(w.data, w.mergeFields), {
          lastUpdateTime: c.history.updateTime!,
        })
      : bw.create(ref, w.data);
    return write.then(
      () => true,
      (e: unknown) => {
        const code = grpcCode(e);
        if (code === GRPC.ALREADY_EXISTS || code === GRPC.FAILED_PRECONDITION) {
          retry.add(c.doc.id);
          return false;
        }
        throw e;
      },
    );
  });
}

/** Wave two: each user document's first open period moves on; true where it moved. */
function moveMarks(
  ctx: FsContext,
  bw: BulkWriter,
  moving: readonly Closing[],
  nowMs: number,
  retry: Set<string>,
): Array<Promise<boolean>> {
  return moving.map((c) =>
    bw
      .update(ctx.quotaRef(c.doc.id), markFields(ctx.policy, c, nowMs), {
        lastUpdateTime: c.doc.updateTime!,
      })
      .then(
        () => true,
        (e: unknown) => {
          const code = grpcCode(e);
          if (code === GRPC.FAILED_PRECONDITION || code === GRPC.NOT_FOUND) {
            retry.add(c.doc.id);
            return false;
          }
          throw e;
        },
      ),
  );
}

/** The documents that changed under a round, read again: those that still have this period open and ended. */
async function readAgain(
  ctx: FsContext,
  ids: readonly string[],
  key: string,
  nowMs: number,
): Promise<Closing[]> {
  const snaps = await ctx.db.getAll(...ids.map((id) => ctx.quotaRef(id)));
  const again = snaps
    .filter((s) => s.exists)
    .map((s) => parseQuotaDoc(ctx.policy, s, nowMs))
    .filter((d) => {
      const m = markOf(d);
      return m.key === key && m.endMs <= nowMs;
    });
  const pending = await prepareClosings(ctx, again);
  // A history document that exists now is updated under its own precondition next round.
  const historySnaps = pending.length
    ? await ctx.db.getAll(...pending.map((c) => ctx.historyRef(c.doc.id, c.mark.key)))
    : [];
  pending.forEach((c, i) => {
    c.history = historySnaps[i] ?? null;
  });
  return pending;
}

/** Turns {summary: {a: 1}} plus merge paths into update() field paths. */
function flatten(data: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    let v: unknown = data;
    for (const part of path.split('.')) v = (v as Record<string, unknown>)[part];
    out[path] = v;
  }
  return out;
}
