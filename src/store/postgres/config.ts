import { BadInputError } from '../../core/errors.js';

/** What quotaclock reads from a postgres:// URL; every other parameter goes to the driver untouched. */
export interface PostgresOptions {
  /** The URL without quotaclock's own query parameters. */
  readonly connectionString: string;
  readonly schema: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /**
   * Grant statements one process runs at once; more concurrent grants are
   * sent together as one statement when a slot frees. 0 sends every grant
   * alone. Default 1: while one statement runs, every grant that arrives
   * joins the next, so a statement carries as many grants as possible (CPU
   * is what runs out; measured with 16 clients in two processes: 1 slot
   * 0.89× pgbench, 2 slots 0.65–0.70×).
   */
  readonly grantSlots: number;
  /**
   * Parts of a calendar close batch run at once, each on its own connection
   * and in its own transaction. Default 2 (at most the pool): PostgreSQL runs
   * one statement on one core, and the parts' statements do not contend.
   */
  readonly closeParallel: number;
}

export const DEFAULT_SCHEMA = 'quotaclock';
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Query parameters that belong to quotaclock, with their bounds. */
const OWN_INTEGERS = {
  pool: { min: 1, max: 1000, fallback: 10 },
  statement_timeout: { min: 0, max: 3_600_000, fallback: 30_000 },
  idle_in_transaction_timeout: { min: 0, max: 3_600_000, fallback: 60_000 },
  connect_timeout_ms: { min: 100, max: 600_000, fallback: 10_000 },
  idle_timeout: { min: 0, max: 3_600_000, fallback: 30_000 },
  grant_slots: { min: 0, max: 1000, fallback: -1 },
  close_parallel: { min: 1, max: 64, fallback: 0 },
} as const;

/**
 * Parses `postgres://user@host:port/db?schema=name&pool=N`. Messages never
 * repeat the URL, which may carry a password.
 */
export function parsePostgresUrl(url: string, where = '--db'): PostgresOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BadInputError(`${where}: not a valid postgres:// URL`, where);
  }
  if (!/^postgres(ql)?:$/i.test(u.protocol)) {
    throw new BadInputError(`${where}: expected a postgres:// URL`, where);
  }
  const schema = u.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new BadInputError(
      `${where}: schema "${schema}" must be 1-63 lower-case letters, digits or _ and not start with a digit`,
      where,
    );
  }
  u.searchParams.delete('schema');
  const ints = {} as Record<keyof typeof OWN_INTEGERS, number>;
  for (const [name, bound] of Object.entries(OWN_INTEGERS) as Array<
    [keyof typeof OWN_INTEGERS, (typeof OWN_INTEGERS)[keyof typeof OWN_INTEGERS]]
  >) {
    const raw = u.searchParams.get(name);
    u.searchParams.delete(name);
    if (raw === null) {
      ints[name] = bound.fallback;
      continue;
    }
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < bound.min || n > bound.max) {
      throw new BadInputError(
        `${where}: ${name} must be a whole number from ${bound.min} to ${bound.max}, got "${raw}"`,
        where,
      );
    }
    ints[name] = n;
  }
  return {
    connectionString: u.toString(),
    schema,
    poolSize: ints.pool,
    statementTimeoutMs: ints.statement_timeout,
    idleInTransactionTimeoutMs: ints.idle_in_transaction_timeout,
    connectTimeoutMs: ints.connect_timeout_ms,
    idleTimeoutMs: ints.idle_timeout,
    grantSlots: ints.grant_slots >= 0 ? ints.grant_slots : 1,
    closeParallel: ints.close_parallel > 0 ? ints.close_parallel : Math.min(2, ints.pool),
  };
}
