/**
 * The engines every contract test runs against. Each entry knows how to tell
 * whether its component is present and how to make a fresh, isolated store.
 * Adding an engine (Firestore on Google's emulator, say) is one more entry in
 * ENGINE_DEFINITIONS; no test file changes.
 *
 * A missing component skips that engine's suites with the reason printed,
 * except under CI=true, where it fails the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { QuotaClockConfigInput } from '../../src/config/schema.js';
import type { QuotaPolicy } from '../../src/core/policy.js';
import { createQuotaClock, policyFromConfig, type QuotaClock } from '../../src/quotaclock.js';
import { openStore, parseStoreUrl } from '../../src/store/open-store.js';
import type { QuotaStore } from '../../src/store/quota-store.js';

/** One fresh store location; `open` may be called again to get another client (another "process"). */
export interface StoreLocationHandle {
  readonly url: string;
  open(policy: QuotaPolicy): Promise<QuotaStore>;
  destroy(): Promise<void>;
}

export interface EngineDefinition {
  readonly name: string;
  /** null when the engine can run here; otherwise what is missing and how to get it. */
  probe(): Promise<string | null>;
  /** A new, empty location no other test file uses. */
  create(): Promise<StoreLocationHandle>;
}

let sequence = 0;
const unique = () => `${process.pid}_${Date.now().toString(36)}_${(sequence += 1)}`;

const openByUrl = (url: string) => (policy: QuotaPolicy) =>
  openStore(parseStoreUrl(url, process.cwd(), 'test store'), policy);

export const POSTGRES_TEST_URL =
  process.env.QUOTACLOCK_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

export const ENGINE_DEFINITIONS: readonly EngineDefinition[] = [
  {
    name: 'sqlite',
    async probe() {
      try {
        await import('../../src/store/sqlite/driver.js');
        return null;
      } catch (e) {
        return `better-sqlite3 cannot be loaded: ${(e as Error).message}`;
      }
    },
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'quotaclock-contract-'));
      const url = `sqlite:${join(dir, 'store.db')}`;
      return {
        url,
        open: openByUrl(url),
        async destroy() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async probe() {
      try {
        const { pingPostgres } = await import('../../src/store/postgres/index.js');
        await pingPostgres(POSTGRES_TEST_URL);
        return null;
      } catch (e) {
        return (
          `PostgreSQL is not reachable at ${POSTGRES_TEST_URL.replace(/:[^:@/]*@/, ':***@')} (${(e as Error).message}); ` +
          'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
        );
      }
    },
    async create() {
      const base = new URL(POSTGRES_TEST_URL);
      base.searchParams.set('schema', `qc_test_${unique()}`.toLowerCase());
      const url = base.toString();
      return {
        url,
        open: openByUrl(url),
        async destroy() {
          const { dropPostgresSchema } = await import('../../src/store/postgres/index.js');
          await dropPostgresSchema(url);
        },
      };
    },
  },
  {
    // Google's emulator; each location is its own project id, cleared afterwards.
    name: 'firestore',
    async probe() {
      const { firestoreEmulator } = await import('../helpers/firestore-emulator.js');
      return firestoreEmulator().then(
        () => null,
        (e: unknown) => (e as Error).message,
      );
    },
    async create() {
      const emu = await import('../helpers/firestore-emulator.js');
      const project = emu.uniqueProjectId();
      const url = `firestore://${project}`;
      return {
        url,
        open: openByUrl(url),
        async destroy() {
          await emu.clearProject((await emu.firestoreEmulator()).host, project);
        },
      };
    },
  },
];

export interface ResolvedEngine extends EngineDefinition {
  readonly missing: string | null;
}

/** Probed once per test file, at import. */
export const ENGINES: readonly ResolvedEngine[] = await Promise.all(
  ENGINE_DEFINITIONS.map(async (d) => ({ ...d, missing: await d.probe() })),
);

export const CI = process.env.CI === 'true';

/** The plans of DESIGN.md plus a second feature, so multi-feature paths are exercised. */
export const TEST_CONFIG: QuotaClockConfigInput = {
  plans: {
    free: { limits: { stock_reports: 10, exports: 2 } },
    pro: { limits: { stock_reports: 45, exports: 10 } },
    pro_plus: { limits: { stock_reports: 100, exports: null } },
    enterprise: { limits: { stock_reports: null, exports: null } },
  },
  defaultPlan: 'free',
  period: { every: 'month', anchor: 'calendar', timeZone: 'UTC' },
};

export interface StoreContext {
  readonly engine: ResolvedEngine;
  readonly store: QuotaStore;
  readonly qc: QuotaClock;
  readonly policy: QuotaPolicy;
  readonly url: string;
  /** Another store instance over the same data, with its own connections; closed after the suite. */
  another(): Promise<QuotaStore>;
}

export interface EngineSuite {
  readonly engine: ResolvedEngine;
  /**
   * Registers a fresh, migrated, empty store for the enclosing describe
   * block (created before its tests, destroyed after) and returns a live view of it.
   */
  useStore(config?: QuotaClockConfigInput): StoreContext;
}

/**
 * Runs `body` once per engine. An engine whose component is missing is
 * skipped with its reason, or fails the run under CI=true.
 */
export function contract(title: string, body: (suite: EngineSuite) => void): void {
  for (const engine of ENGINES) {
    const name = `${title} [${engine.name}]`;
    if (engine.missing !== null) {
      if (CI) {
        describe(name, () => {
          it(`needs ${engine.name} under CI=true`, () => {
            throw new Error(`${engine.name} is missing and CI=true: ${engine.missing}`);
          });
        });
      } else {
        console.warn(`[contract] skipping ${name}: ${engine.missing}`);
        describe.skip(`${name} (skipped: ${engine.missing})`, () => {
          it('skipped', () => undefined);
        });
      }
      continue;
    }
    describe(name, () => body({ engine, useStore: (config) => useStore(engine, config) }));
  }
}

function useStore(engine: ResolvedEngine, configInput?: QuotaClockConfigInput): StoreContext {
  let handle: StoreLocationHandle | undefined;
  let store: QuotaStore | undefined;
  let qc: QuotaClock | undefined;
  const config = parseConfig({ ...TEST_CONFIG, ...configInput });
  const policy = policyFromConfig(config);
  const extra: QuotaStore[] = [];
  beforeAll(async () => {
    handle = await engine.create();
    store = await handle.open(policy);
    await store.migrate();
    qc = createQuotaClock({ config: { ...config, store: handle.url }, store });
  });
  afterAll(async () => {
    for (const s of extra) await s.close();
    await store?.close();
    await handle?.destroy();
  });
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the store is only available inside tests');
    return v;
  };
  return {
    engine,
    get store() {
      return need(store);
    },
    get qc() {
      return need(qc);
    },
    policy,
    get url() {
      return need(handle).url;
    },
    async another() {
      const s = await need(handle).open(policy);
      extra.push(s);
      return s;
    },
  };
}

/** Reads every record a store exports. */
export async function exportAll(store: QuotaStore) {
  const out = [];
  for await (const r of store.exportRecords()) out.push(r);
  return out;
}

export const at = (iso: string) => Date.parse(iso);

/** Store instances to spread work over: several (each with its own connections) where the engine has several writers. */
export async function writers(
  ctx: { store: QuotaStore; another(): Promise<QuotaStore> },
  n: number,
): Promise<QuotaStore[]> {
  if (!ctx.store.capabilities.multiWriter) return [ctx.store];
  const out = [ctx.store];
  while (out.length < n) out.push(await ctx.another());
  return out;
}
