/**
 * A store location per engine with a live `serve` on it and keys of every
 * kind, for the HTTP suites. Created before the describe block, removed after.
 */
import { afterAll, beforeAll } from 'vitest';
import type { ResolvedEngine, StoreLocationHandle } from '../contract/engines.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { seedKeys, startServe, type Served } from '../helpers/serve.js';

export const KEY_SCOPES = {
  writer: ['quota:write'],
  reader: ['quota:read'],
  admin: ['admin:write'],
  auditor: ['admin:read'],
  revoked: ['quota:write'],
} as const;

export interface ServeFixture {
  readonly url: string;
  readonly db: string;
  readonly keys: Record<keyof typeof KEY_SCOPES, string>;
  readonly served: Served;
  /** The library on the same store, to look at what the server wrote. */
  readonly qc: QuotaClock;
}

export function useServe(engine: ResolvedEngine, args: string[] = []): ServeFixture {
  let handle: StoreLocationHandle | undefined;
  const fx = {} as { -readonly [K in keyof ServeFixture]: ServeFixture[K] };
  beforeAll(async () => {
    handle = await engine.create();
    fx.db = handle.url;
    fx.keys = (await seedKeys(handle.url, {
      ...KEY_SCOPES,
    } as Record<
      string,
      (typeof KEY_SCOPES)[keyof typeof KEY_SCOPES][number][]
    >)) as ServeFixture['keys'];
    fx.qc = createQuotaClock({ config: { store: handle.url } });
    const revoked = (await fx.qc.keys.list()).find((k) => k.name === 'revoked')!;
    await fx.qc.keys.revoke(revoked.id);
    fx.served = await startServe(handle.url, { args });
    fx.url = fx.served.url;
  });
  afterAll(async () => {
    const code = await fx.served?.stop();
    await fx.qc?.close();
    await handle?.destroy();
    if (code !== undefined && code !== 0)
      throw new Error(`serve exited ${code}:\n${fx.served.log()}`);
  });
  return fx;
}
