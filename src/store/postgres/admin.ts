import pg from 'pg';
import { parsePostgresUrl } from './config.js';
import { dropped } from '../shared/debug-log.js';

/**
 * Maintenance helpers for tests and tooling, kept here so that SQL stays in
 * this folder. Each opens one short-lived connection.
 */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const opts = parsePostgresUrl(url);
  const client = new pg.Client({
    connectionString: opts.connectionString,
    connectionTimeoutMillis: Math.min(opts.connectTimeoutMs, 5000),
    application_name: 'quotaclock-admin',
  });
  // pg emits 'error' when the server drops an idle connection; without a listener Node
  // would crash the process. The next query on it fails and reaches the caller.
  client.on('error', dropped('admin connection', 'the failed query reports it'));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(dropped('closing the admin connection', 'its work is done'));
  }
}

/** Resolves to the server version when the URL is reachable; rejects with the driver's reason otherwise. */
export function pingPostgres(url: string): Promise<string> {
  return withClient(url, async (c) => {
    const r = await c.query<{ v: string }>('SHOW server_version');
    return r.rows[0]!.v;
  });
}

/** Drops the schema named in the URL with everything in it. */
export function dropPostgresSchema(url: string): Promise<void> {
  const { schema } = parsePostgresUrl(url);
  return withClient(url, async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}

/**
 * Ends every session a quotaclock store for this URL's schema holds open
 * (pg_terminate_backend), as a server restart would. For failover drills and
 * tests; the pools notice and reconnect.
 */
export function terminatePostgresSessions(url: string): Promise<number> {
  const { schema } = parsePostgresUrl(url);
  return withClient(url, async (c) => {
    const r = await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = $1 AND pid <> pg_backend_pid()`,
      [`quotaclock/${schema}`.slice(0, 63)],
    );
    return r.rowCount ?? 0;
  });
}
