import { debuglog } from 'node:util';

/**
 * The stores' debug lines, printed with NODE_DEBUG=quotaclock-store. A store
 * is given no logger; these lines are for errors it drops on purpose, so
 * that one who wonders can see them.
 */
export const storeDebug = debuglog('quotaclock-store');

/**
 * A rejection handler for an error that is safe to drop, saying why: the
 * debug line names what failed and the reason dropping it is safe.
 */
export function dropped(what: string, whySafe: string): (e: unknown) => undefined {
  return (e: unknown) => {
    storeDebug('%s failed (%s): %s', what, whySafe, e instanceof Error ? e.message : String(e));
    return undefined;
  };
}
