import type { Formatter } from './format.js';
import type { Viewer } from './layout.js';

/** What every page renderer gets besides its own data. */
export interface ViewContext {
  readonly fmt: Formatter;
  readonly viewer: Viewer;
  readonly nowMs: number;
  /** The period rule's zone: where days and runs are shown when no subject's zone applies. */
  readonly zone: string;
}

/** Bookkeeping fields that say nothing to a reader of the audit log. */
const NOISE = new Set(['id', 'createdAt', 'prefix', 'lastUsedAt', 'anchor']);

/** A compact "field: before → after" description of an audited change. */
export function describeChange(
  before: unknown,
  after: unknown,
): { field: string; from: string; to: string }[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const changed = keys
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
      .map((k) => ({ field: k, from: short(before[k]), to: short(after[k]) }));
    // A refund names the event it refunds: unchanged, but it is what the reader looks for.
    const which = typeof after.key === 'string' && before.key === after.key ? after.key : null;
    return which === null ? changed : [{ field: 'key', from: '', to: which }, ...changed];
  }
  // A creation: what was created, field by field.
  if ((before === null || before === undefined) && isObj(after))
    return Object.entries(after)
      .filter(([k, v]) => !NOISE.has(k) && v !== null && v !== undefined)
      .map(([k, v]) => ({ field: k, from: '', to: short(v) }));
  if (before === null || before === undefined) return [{ field: '', from: '', to: short(after) }];
  return [{ field: '', from: short(before), to: short(after) }];
}

function short(v: unknown): string {
  if (v === undefined) return '—';
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(', ');
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}…` : s;
}
