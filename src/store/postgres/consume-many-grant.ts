import type { ConsumeItem, ConsumeResult } from '../../core/types.js';
import type { GrantValues } from './grant-batch-sql.js';
import { isUniqueViolation, type PgDb } from './pool.js';

/** One item ready for the grouped grant: its values, and its answer once granted at `used`. */
export interface PreparedGrant {
  readonly values: GrantValues;
  answer(used: number): ConsumeResult;
}

const counterOf = (v: GrantValues) => `${v[0]}|${v[1]}|${v[4]}`;

/**
 * Which items may go to the grouped grant. A subject goes only with every
 * item of the batch on it: an item decided later, by the transaction, would
 * otherwise see counts of items that come after it. A key used twice in the
 * batch sends the whole batch to the transaction, which replays the second.
 */
function eligible(
  prepared: readonly (PreparedGrant | undefined)[],
  items: readonly ConsumeItem[],
): boolean[] {
  const keys = new Set<string>();
  for (const p of prepared) {
    const key = p?.values[12] ?? null;
    if (key === null) continue;
    const k = `${p!.values[0]}|${key}`;
    if (keys.has(k)) return prepared.map(() => false);
    keys.add(k);
  }
  const blocked = new Set(items.filter((_, i) => prepared[i] === undefined).map((x) => x.subject));
  return prepared.map((p, i) => p !== undefined && !blocked.has(items[i]!.subject));
}

/**
 * The batch's fast path: every item whose counter row exists and whose
 * group fits goes in ONE statement (grantGroupsSql), committed on its own,
 * so a busy subject's row is locked for one statement instead of for the
 * transaction's round trips. Returns each item's answer, or undefined for
 * those it did not grant: the caller decides them, in order, in the
 * transaction. A repeated key anywhere rolls the statement back and every
 * item is left to the transaction.
 */
export async function grantGrouped(
  db: PgDb,
  statement: { text: string; name: string },
  prepared: readonly (PreparedGrant | undefined)[],
  items: readonly ConsumeItem[],
): Promise<(ConsumeResult | undefined)[]> {
  const go = eligible(prepared, items);
  const chosen = prepared.flatMap((p, i) => (go[i] ? [{ p: p!, i }] : []));
  const answers: (ConsumeResult | undefined)[] = items.map(() => undefined);
  if (chosen.length === 0) return answers;
  // A fixed order of row locks, so two batches never wait on each other in a cycle. The sort is
  // stable, so items on one counter keep the batch's order, which is the order they are granted in.
  chosen.sort((a, b) => {
    const x = counterOf(a.p.values);
    const y = counterOf(b.p.values);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const columns = Array.from({ length: 15 }, (_, c) => chosen.map(({ p }) => p.values[c]));
  try {
    const res = await db.query<{ ord: number; used: number }>(statement.text, columns, {
      // Safe to resend after an unknown outcome only if every grant in it carries a key.
      idempotent: chosen.every(({ p }) => p.values[12] !== null),
      name: statement.name,
    });
    for (const r of res.rows) {
      const { p, i } = chosen[r.ord - 1]!;
      answers[i] = p.answer(r.used);
    }
  } catch (e) {
    if (!isUniqueViolation(e, 'events_idem')) throw e;
  }
  return answers;
}
