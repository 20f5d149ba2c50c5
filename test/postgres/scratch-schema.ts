/**
 * A fresh PostgreSQL schema for a test file, with a plain client on the same
 * database for the SQL a test runs around the store (seeding a past schema
 * version, a conflicting row, reading what the store wrote).
 */
import pg from 'pg';
import { ENGINES, type StoreLocationHandle } from '../contract/engines.js';

export const postgresEngine = ENGINES.find((e) => e.name === 'postgres')!;

export interface ScratchSchema {
  readonly location: StoreLocationHandle;
  readonly schema: string;
  readonly client: pg.Client;
}

export async function scratchSchema(): Promise<ScratchSchema> {
  if (postgresEngine.missing !== null) {
    throw new Error(`PostgreSQL is missing: ${postgresEngine.missing}`);
  }
  const location = await postgresEngine.create();
  const schema = new URL(location.url).searchParams.get('schema')!;
  const base = new URL(location.url);
  base.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: base.toString() });
  await client.connect();
  return { location, schema, client };
}
