import type { SubjectUsage } from '../../store/quota-store.js';

/** A place in the by-use order: most used first, then by id. */
export interface UseCursor {
  readonly used: number;
  readonly id: string;
}

export function encodeUseCursor(c: UseCursor): string {
  return `${c.used}:${c.id}`;
}

export function decodeUseCursor(s: string | undefined): UseCursor | null {
  if (!s) return null;
  const m = /^(\d{1,15}):(.+)$/s.exec(s);
  return m ? { used: Number(m[1]), id: m[2]! } : null;
}

const totalOf = (u: SubjectUsage) => Object.values(u.used).reduce((a, b) => a + b, 0);

/** a before b in the order: more used first, then the smaller id. */
function before(a: UseCursor, b: UseCursor): boolean {
  return a.used !== b.used ? a.used > b.used : a.id < b.id;
}

/**
 * One page of subjects ranked by use in the current period, after `cursor`.
 * It reads the period's usage in one pass and keeps only the best `limit`
 * rows, so memory stays bounded; the cost grows with the number of subjects
 * (the id order, which the stores index, does not).
 */
export async function rankByUse(
  rows: AsyncIterable<SubjectUsage> | Iterable<SubjectUsage>,
  opts: { after: UseCursor | null; limit: number; plan?: string; idPrefix?: string },
): Promise<{ items: SubjectUsage[]; next: string | null }> {
  const keep: { c: UseCursor; u: SubjectUsage }[] = [];
  for await (const u of rows) {
    if (opts.plan && u.plan !== opts.plan) continue;
    if (opts.idPrefix && !u.subject.startsWith(opts.idPrefix)) continue;
    const c = { used: totalOf(u), id: u.subject };
    if (opts.after && !before(opts.after, c)) continue;
    // One more than the page, to know whether there is a next page.
    if (keep.length > opts.limit && !before(c, keep[keep.length - 1]!.c)) continue;
    let i = keep.length;
    while (i > 0 && before(c, keep[i - 1]!.c)) i--;
    keep.splice(i, 0, { c, u });
    if (keep.length > opts.limit + 1) keep.pop();
  }
  const page = keep.slice(0, opts.limit);
  const next =
    keep.length > opts.limit && page.length ? encodeUseCursor(page[page.length - 1]!.c) : null;
  return { items: page.map((k) => k.u), next };
}
