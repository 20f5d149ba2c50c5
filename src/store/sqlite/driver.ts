import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);

/**
 * better-sqlite3 12 is the driver on Node 20, where 13 crashes. On Node 22
 * and later the optional dependency better-sqlite3-v13 (13.x) is used:
 * since Node 24.19, 12's statements abort the process ("Assertion failed:
 * (env) != nullptr" in RemoveEnvironmentCleanupHook) when the garbage
 * collector finalises them outside a JavaScript context, typically at exit.
 * npm installs the optional package only where its engines allow (Node ≥ 22).
 */
function load(): typeof BetterSqlite3 {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) {
    try {
      return require('better-sqlite3-v13') as typeof BetterSqlite3;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  return require('better-sqlite3') as typeof BetterSqlite3;
}

export const Database: typeof BetterSqlite3 = load();
export type Database = BetterSqlite3.Database;
