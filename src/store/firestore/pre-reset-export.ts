import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { Timestamp, type DocumentData } from '@google-cloud/firestore';
import { QuotaClockError } from '../../core/errors.js';
import { toIso } from '../../core/period.js';
import { scanAll } from './candidates.js';
import type { FsContext } from './context.js';
import { COLLECTIONS } from './layout.js';

export const EXPORT_FORMAT = 'quotaclock-firestore-export';

/** Firestore values as JSON: timestamps become {"$timestamp": ISO}, everything else as is. */
export function toJsonValue(v: unknown): unknown {
  if (v instanceof Timestamp) return { $timestamp: v.toDate().toISOString() };
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof (o as { path?: unknown }).path === 'string' && 'firestore' in o)
      return { $ref: o.path };
    if (typeof o.latitude === 'number' && typeof o.longitude === 'number')
      return { $geo: [o.latitude, o.longitude] };
    if (Buffer.isBuffer(v)) return { $bytes: (v as Buffer).toString('base64') };
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = toJsonValue(x);
    return out;
  }
  return v;
}

/**
 * Writes the userQuotas documents whose period `key` is about to close to
 * `<dir>/userQuotas-<key>-<time>.jsonl`: a header, one line per document as
 * stored, and a footer with the count and a SHA-256 of the lines before it.
 * The file appears under its final name only once complete.
 */
export async function exportBeforeReset(
  ctx: FsContext,
  dir: string,
  key: string,
  nowMs: number,
  projectId: string,
): Promise<{ path: string; documents: number }> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new QuotaClockError(
      'RESET_FAILED',
      `pre-reset export: cannot create ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'}); nothing was reset`,
      { where: 'backup_dir' },
    );
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(dir, `${COLLECTIONS.quotas}-${key}-${stamp}.jsonl`);
  const tmp = `${path}.partial-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  const hash = createHash('sha256');
  const write = async (record: unknown) => {
    const line = `${JSON.stringify(record)}\n`;
    hash.update(line);
    if (!out.write(line)) await once(out, 'drain');
  };
  let documents = 0;
  try {
    await write({
      type: 'header',
      format: EXPORT_FORMAT,
      version: 1,
      project: projectId,
      collection: COLLECTIONS.quotas,
      period: key,
      now: toIso(nowMs),
      createdAt: new Date().toISOString(),
    });
    for await (const d of scanAll(ctx, nowMs, { key })) {
      documents += 1;
      await write({
        type: 'document',
        path: `${COLLECTIONS.quotas}/${d.id}`,
        updateTime: d.updateTime ? d.updateTime.toDate().toISOString() : null,
        data: toJsonValue(d.raw as DocumentData),
      });
    }
    const sha256 = hash.digest('hex');
    out.write(`${JSON.stringify({ type: 'footer', documents, sha256 })}\n`);
    out.end();
    await once(out, 'finish');
    renameSync(tmp, path);
    return { path, documents };
  } catch (e) {
    out.destroy();
    rmSync(tmp, { force: true });
    if (e instanceof QuotaClockError) throw e;
    throw new QuotaClockError(
      'RESET_FAILED',
      `pre-reset export to ${dir} failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); nothing was reset`,
      { where: 'backup_dir', cause: e },
    );
  }
}
