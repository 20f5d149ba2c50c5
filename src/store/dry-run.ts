/**
 * A dry run of a write that runs the real code inside the real transaction
 * and rolls it back, so it reports exactly what the write would do. The
 * transaction's body throws this with its result; the caller gets the result.
 */
export class RollBack<T> extends Error {
  constructor(readonly result: T) {
    super('dry run: rolled back');
  }
}

/** Runs a transaction whose body ends with `throw new RollBack(result)` on a dry run. */
export async function resultOf<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof RollBack) return e.result as T;
    throw e;
  }
}

/** The same for a synchronous transaction (SQLite). */
export function resultOfSync<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof RollBack) return e.result as T;
    throw e;
  }
}
