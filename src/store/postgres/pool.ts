import pg from 'pg';
import { QuotaClockError, StoreUnavailableError } from '../../core/errors.js';
import type { PostgresOptions } from './config.js';
import { dropped } from '../shared/debug-log.js';

export type Client = pg.PoolClient;

/** int8 and numeric (COUNT, SUM, epoch ms) come back as JS numbers; only this pool is affected. */
const toNumber = (v: string) => Number(v);
const TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 || oid === 1700 ? toNumber : pg.types.getTypeParser(oid, format ?? 'text'),
} as unknown as pg.CustomTypesConfig;

/** The transaction was rolled back by the server: retrying it is always safe. */
const ABORTED = new Set(['40001', '40P01']);
/** The connection failed or the server went away. */
const CONNECTION = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300',
]);

export function pgCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isAborted(e: unknown): boolean {
  return ABORTED.has(pgCode(e) ?? '');
}

export function isConnectionError(e: unknown): boolean {
  if (e instanceof QuotaClockError) return false;
  if (CONNECTION.has(pgCode(e) ?? '')) return true;
  const msg = e instanceof Error ? e.message : '';
  return /connection terminated|connection timeout|timeout exceeded when trying to connect|connection error|Client was closed/i.test(
    msg,
  );
}

/** The driver refused the query before sending it: nothing reached the server. */
export function isNotSent(e: unknown): boolean {
  return e instanceof Error && /is not queryable/.test(e.message);
}

export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  if (pgCode(e) !== '23505') return false;
  return constraint === undefined || (e as { constraint?: string }).constraint === constraint;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const backoff = (attempt: number) =>
  sleep(Math.min(1000, 5 * 2 ** attempt) * (0.5 + Math.random()));

export interface RetryOptions {
  /**
   * Running the operation twice has the same effect as running it once, so
   * it may be retried even when a connection broke after the statement was
   * sent (the first attempt may or may not have committed).
   */
  readonly idempotent: boolean;
  /** Other errors that mean "rolled back, try again", such as a unique race the retry resolves. */
  readonly retryIf?: (e: unknown) => boolean;
}

export type TxMode = 'write' | 'snapshot';

export const MAX_ATTEMPTS = 8;

/**
 * A pg.Pool with the retry rules in one place: a transaction the server
 * aborted (serialization failure, deadlock) is retried; a broken connection
 * is retried only when the work certainly did not commit or is idempotent.
 */
export class PgDb {
  readonly pool: pg.Pool;
  /** The quoted schema, for qualifying every table name. */
  readonly s: string;
  readonly schema: string;
  private readonly where: string;
  private ended = false;

  constructor(readonly options: PostgresOptions) {
    this.schema = options.schema;
    this.s = `"${options.schema}"`;
    const u = new URL(options.connectionString);
    this.where = `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      idleTimeoutMillis: options.idleTimeoutMs,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
      // Per schema, so an operator (or a test) can tell one store's sessions from another's.
      application_name: `quotaclock/${options.schema}`.slice(0, 63),
      types: TYPES,
    });
    // An idle client that loses its connection is dropped by the pool; the next checkout opens a new one.
    // The listener must exist: without one, pg's 'error' would crash the process.
    this.pool.on('error', dropped('an idle pooled connection', 'the pool replaces it'));
  }

  unavailable(e: unknown, note = ''): StoreUnavailableError {
    const msg = e instanceof Error ? e.message : String(e);
    return new StoreUnavailableError(
      `PostgreSQL at ${this.where} is unavailable: ${msg}${note}`,
      e,
    );
  }

  private async connect(attempt: number): Promise<Client | null> {
    if (this.ended) throw new StoreUnavailableError('the PostgreSQL store is closed');
    try {
      return await this.pool.connect();
    } catch (e) {
      // Nothing was sent: always safe to try again.
      if (attempt + 1 < MAX_ATTEMPTS && isConnectionError(e)) {
        await backoff(attempt);
        return null;
      }
      throw this.unavailable(e);
    }
  }

  /** One statement in autocommit mode. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: readonly unknown[] = [],
    opts: RetryOptions & { name?: string } = { idempotent: true },
  ): Promise<pg.QueryResult<R>> {
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.connect(attempt);
      if (!client) continue;
      try {
        const res = await client.query<R>({
          text,
          values: values as unknown[],
          ...(opts.name ? { name: opts.name } : {}),
        });
        client.release();
        return res;
      } catch (e) {
        const broken = isConnectionError(e);
        client.release(broken ? (e as Error) : undefined);
        const last = attempt + 1 >= MAX_ATTEMPTS;
        if (!last && (isAborted(e) || isNotSent(e) || (broken && opts.idempotent))) {
          await backoff(attempt);
          continue;
        }
        if (broken) {
          throw this.unavailable(
            e,
            opts.idempotent ? '' : ' (the statement may or may not have been applied)',
          );
        }
        throw e;
      }
    }
  }

  /**
   * Runs fn in one transaction. 'snapshot' is a read-only REPEATABLE READ
   * transaction: every statement sees the same committed state.
   */
  async tx<T>(
    fn: (c: Client) => Promise<T>,
    opts: RetryOptions & {
      mode?: TxMode;
      /**
       * COMMIT returns before the WAL is flushed. Only for work that a crash
       * may undo without harm because it is redone from a checkpoint that
       * commits with it (a close batch); the next synchronous commit on the
       * server flushes it.
       */
      lazyCommit?: boolean;
      /** Settings for this transaction only (SET LOCAL), sent with BEGIN in one round trip. */
      local?: Readonly<Record<string, string>>;
    } = { idempotent: false },
  ): Promise<T> {
    const local = { ...opts.local, ...(opts.lazyCommit ? { synchronous_commit: 'off' } : {}) };
    const begin = [
      opts.mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN',
      ...Object.entries(local).map(([k, v]) => `SET LOCAL ${k} = ${v}`),
    ].join('; ');
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.connect(attempt);
      if (!client) continue;
      let committing = false;
      try {
        await client.query(begin);
        const out = await fn(client);
        committing = true;
        await client.query('COMMIT');
        client.release();
        return out;
      } catch (e) {
        let broken = isConnectionError(e);
        if (!broken && !committing) {
          await client.query('ROLLBACK').catch((r: unknown) => {
            // The connection is released as broken below; the original error is what counts.
            dropped('ROLLBACK', 'the connection is discarded and the first error rethrown')(r);
            broken = true;
          });
        }
        client.release(broken ? (e instanceof Error ? e : new Error(String(e))) : undefined);
        const last = attempt + 1 >= MAX_ATTEMPTS;
        // Before COMMIT is sent the server rolls an interrupted transaction back.
        const safe =
          isAborted(e) ||
          (broken && (!committing || opts.idempotent)) ||
          (!broken && !committing && (opts.retryIf?.(e) ?? false));
        if (!last && safe) {
          await backoff(attempt);
          continue;
        }
        if (broken) {
          throw this.unavailable(
            e,
            committing && !opts.idempotent
              ? ' (the change may or may not have been committed)'
              : '',
          );
        }
        throw e;
      }
    }
  }

  /**
   * A connection of its own, outside the pool, with the pool's settings: for
   * a session that must stay open as long as its owner wants (the lease
   * session), which the pool could close when idle. The caller connects and ends it.
   */
  dedicatedClient(): pg.Client {
    if (this.ended) throw new StoreUnavailableError('the PostgreSQL store is closed');
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      statement_timeout: this.options.statementTimeoutMs,
      idle_in_transaction_session_timeout: this.options.idleInTransactionTimeoutMs,
      application_name: `quotaclock/${this.options.schema}`.slice(0, 63),
      keepAlive: true,
      types: TYPES,
    });
    return client;
  }

  /** A client for a long read, such as an export; the caller releases it. */
  async checkout(): Promise<Client> {
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.connect(attempt);
      if (client) return client;
    }
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.pool.end();
  }
}
