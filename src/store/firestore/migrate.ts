import { dropped } from '../shared/debug-log.js';
import { PLACEMENT_FIELDS } from './candidates.js';
import type { FsContext } from './context.js';
import { COLLECTIONS, legacyEnd, parseQuotaDoc, ts } from './layout.js';
import { pages } from './snapshot.js';

export const FIRESTORE_SCHEMA_VERSION = 1;

/**
 * Nothing to create in Firestore. Records the layout version and gives
 * documents the old code left without current_period_start/end those
 * fields (from last_reset, updated_at or created_at), so the reset job's
 * indexed scans find them.
 */
export async function migrateFirestore(
  ctx: FsContext,
): Promise<{ applied: number[]; current: number }> {
  const ref = ctx.db.collection(COLLECTIONS.meta).doc('schema');
  const snap = await ref.get();
  const nowMs = ctx.now();
  const bw = ctx.db.bulkWriter();
  for await (const page of pages(
    // The fields the reset's scans read to place a document in time.
    ctx.quotas().select(...PLACEMENT_FIELDS),
  )) {
    for (const s of page) {
      const d = parseQuotaDoc(ctx.policy, s, nowMs);
      if (d.hasPeriodFields) continue;
      void bw
        .update(
          s.ref,
          {
            current_period_start: ts(d.current.startMs),
            current_period_end: legacyEnd(d.current),
          },
          { lastUpdateTime: s.updateTime },
        )
        .catch(
          dropped(
            `placing ${s.ref.path} in time`,
            'the reset also scans documents without the fields, and the next migrate retries',
          ),
        );
    }
  }
  await bw.close();
  const version = Number(snap.get('version') ?? 0);
  if (version >= FIRESTORE_SCHEMA_VERSION) return { applied: [], current: version };
  await ref.set({ version: FIRESTORE_SCHEMA_VERSION, updated_at: ts(nowMs) });
  return { applied: [FIRESTORE_SCHEMA_VERSION], current: FIRESTORE_SCHEMA_VERSION };
}
