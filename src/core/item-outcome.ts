import { ERROR_CODES, QuotaClockError } from './errors.js';
import type { ItemOutcome } from './types.js';

/**
 * Whether an error belongs to one item of a batch rather than to the batch:
 * a refusal of that item's input (4xx: an unknown subject, a reused key).
 * Anything else (the store failing) fails the whole call.
 */
export function isItemError(e: unknown): e is QuotaClockError {
  return e instanceof QuotaClockError && ERROR_CODES[e.code].http < 500;
}

/** Runs one item, turning an item error into its outcome. */
export function settleItem<T>(run: () => T): ItemOutcome<T> {
  try {
    return { ok: true, result: run() };
  } catch (e) {
    if (isItemError(e)) return { ok: false, error: e };
    throw e;
  }
}
