import { Database } from './driver.js';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreNotFoundError, StoreUnavailableError } from '../../core/errors.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from './migrations.js';

export type Db = Database;

export interface SqliteOptions {
  readonly path: string;
  /** FULL fsyncs every commit: a granted unit survives power loss. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs?: number;
  readonly readonly?: boolean;
  /**
   * false: the file (and its folder) must already exist; a missing one is
   * refused and nothing is created. Default true.
   */
  readonly create?: boolean;
  /** Apply pending migrations on first use, as embedded databases do. Default false. */
  readonly autoMigrate?: boolean;
}

export function openSqlite(opts: SqliteOptions): Db {
  const mustExist = opts.readonly === true || opts.create === false;
  if (mustExist && opts.path !== ':memory:' && !existsSync(opts.path)) {
    throw new StoreNotFoundError(opts.path);
  }
  if (opts.path !== ':memory:' && !mustExist) {
    try {
      mkdirSync(dirname(opts.path), { recursive: true });
    } catch {
      // The open below reports the real problem with the path.
    }
  }
  let db: Db;
  try {
    db = new Database(opts.path, {
      readonly: opts.readonly ?? false,
      fileMustExist: mustExist,
    });
  } catch (e) {
    throw new StoreUnavailableError(
      `cannot open SQLite database ${opts.path}: ${(e as Error).message}`,
      e,
    );
  }
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 30_000}`);
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
  }
  db.pragma('foreign_keys = ON');
  return db;
}

export function schemaVersion(db: Db): number {
  const has = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
    .get();
  if (!has) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
    v: number | null;
  };
  return row.v ?? 0;
}

/** Applies every migration newer than the database, each in its own immediate transaction. */
export function migrate(db: Db): { applied: number[]; current: number } {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  );
  const applied: number[] = [];
  for (const m of SQLITE_MIGRATIONS) {
    db.transaction(() => {
      // Re-read inside the lock: another process may have just applied it.
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
      applied.push(m.version);
    }).immediate();
  }
  return { applied, current: schemaVersion(db) };
}

export function assertMigrated(db: Db, path: string): void {
  const v = schemaVersion(db);
  if (v < SQLITE_SCHEMA_VERSION) {
    throw new StoreUnavailableError(
      `the database at ${path} has schema version ${v}, expected ${SQLITE_SCHEMA_VERSION}: run "quotaclock init"`,
    );
  }
}
