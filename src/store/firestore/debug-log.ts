import { debuglog } from 'node:util';

/** Debug lines of the Firestore store, printed with NODE_DEBUG=quotaclock-firestore. */
const debug = debuglog('quotaclock-firestore');

/**
 * Records an error the store chose not to raise, with why that is safe, so
 * a swallowed failure still leaves a trace for whoever debugs the store.
 */
export function ignoredError(what: string, why: string, e: unknown): void {
  debug('%s failed (%s); ignored: %s', what, e instanceof Error ? e.message : String(e), why);
}
