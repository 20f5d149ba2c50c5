import type {
  QuotaStore,
  StoreBackup,
  StoreCloser,
  StoreLeases,
  StoreLedger,
  StoreMonitoring,
  StoreService,
  StoreSubjects,
  StoreUsage,
} from '../quota-store.js';

/**
 * An engine is a set of role objects, one per role of the contract (as a
 * kysely Dialect is a set of driver, adapter and compiler): each engine
 * folder has one file per role, whose class implements that role's interface.
 */
export interface StoreRoles {
  readonly subjects: StoreSubjects;
  readonly usage: StoreUsage;
  readonly service: StoreService;
  readonly leases: StoreLeases;
  readonly ledger: StoreLedger;
  readonly closer: StoreCloser;
  readonly backup: StoreBackup;
  readonly monitoring: StoreMonitoring;
}

export type RoleName = keyof StoreRoles;

/**
 * A role as an engine with a synchronous driver (SQLite) implements it: the
 * same methods and parameters, returning their results directly.
 */
export type Synchronous<Role> = {
  [K in keyof Role]: Role[K] extends (...a: infer A) => Promise<infer R>
    ? (...a: A) => R
    : Role[K] extends (...a: infer A) => AsyncIterable<infer R>
      ? (...a: A) => Iterable<R>
      : never;
};

/** 'stream': the method returns an async iterable; 'call': a promise. */
export type MethodKind = 'call' | 'stream';

/** Every method of the contract, by role; the Record types make the compiler insist on each one. */
const CONTRACT: { readonly [R in RoleName]: Readonly<Record<keyof StoreRoles[R], MethodKind>> } = {
  subjects: {
    addSubject: 'call',
    upsertSubjects: 'call',
    getSubject: 'call',
    listSubjects: 'call',
    setPlan: 'call',
    setOverride: 'call',
    suspend: 'call',
    unsuspend: 'call',
    updateSubject: 'call',
  },
  usage: {
    consume: 'call',
    consumeMany: 'call',
    refund: 'call',
    status: 'call',
    history: 'call',
    resetSubject: 'call',
    subjectEvents: 'call',
  },
  service: {
    createApiKey: 'call',
    listApiKeys: 'call',
    apiKeyByHash: 'call',
    revokeApiKey: 'call',
    createSession: 'call',
    lookupSession: 'call',
    deleteSession: 'call',
    listAudit: 'call',
  },
  leases: {
    acquireLease: 'call',
    renewLease: 'call',
    currentLease: 'call',
    takeOverLease: 'call',
    releaseLease: 'call',
  },
  ledger: {
    getRun: 'call',
    listRuns: 'call',
    unfinishedRuns: 'call',
    beginRun: 'call',
    finishRun: 'call',
  },
  closer: {
    pendingPeriods: 'call',
    openCount: 'call',
    closeBatch: 'call',
    previewBatch: 'call',
    prune: 'call',
  },
  backup: { exportRecords: 'stream', importRecords: 'call' },
  monitoring: {
    verify: 'call',
    subjectsAtLimit: 'call',
    claimThresholdNotice: 'call',
    recordJobMetrics: 'call',
    jobMetrics: 'call',
    consumeTotals: 'call',
    usageBuckets: 'call',
    periodUsage: 'stream',
    windowUsage: 'stream',
  },
};

/** What a store is besides its roles: its name and capabilities, its schema and its lifetime. */
export type StoreBase = Pick<QuotaStore, 'engine' | 'capabilities' | 'migrate' | 'close'>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each contract method has its own parameters
export type AnyMethod = (...a: any[]) => any;

/**
 * Makes the store's method for one contract method, through the engine's
 * guard (schema check, error mapping, ...). Called once per method, when the
 * store is composed, so the guard binds what it needs then, not per call.
 */
export type MethodMaker = (role: RoleName, name: string, kind: MethodKind) => AnyMethod;

/**
 * The store: the base's own members and one guarded method per contract
 * method. Built in one step (fromEntries) so V8 keeps it in fast-property
 * mode; fifty properties added one by one would turn it into a dictionary,
 * and every call, consume included, would pay a hash lookup.
 */
export function composeStore<B extends StoreBase>(base: B, make: MethodMaker): B & QuotaStore {
  const methods: Array<[string, AnyMethod]> = [];
  for (const role of Object.keys(CONTRACT) as RoleName[]) {
    for (const [name, kind] of Object.entries(CONTRACT[role]) as Array<[string, MethodKind]>) {
      methods.push([name, make(role, name, kind)]);
    }
  }
  return Object.fromEntries([...Object.entries(base), ...methods]) as B & QuotaStore;
}

/** One role's method, bound to its role object. */
export function roleMethod(role: object, name: string): AnyMethod {
  const method = (role as Record<string, unknown>)[name];
  if (typeof method !== 'function') throw new TypeError(`the store role has no method ${name}`);
  return (method as AnyMethod).bind(role);
}

/** How an engine whose driver is asynchronous guards every call. */
export interface AsyncGuard {
  /** Awaited before each call, inside the error mapping (a first-use schema check); absent: nothing to wait for. */
  readonly ready?: () => Promise<void>;
  /** What the caller gets for an error the driver threw. */
  readonly mapError: (e: unknown) => unknown;
}

/** A role's promise-returning method behind the guard. */
export function guardedCall(method: AnyMethod, { ready, mapError }: AsyncGuard): AnyMethod {
  if (!ready) {
    return async (...a: unknown[]) => {
      try {
        return await method(...a);
      } catch (e) {
        throw mapError(e);
      }
    };
  }
  return async (...a: unknown[]) => {
    try {
      await ready();
      return await method(...a);
    } catch (e) {
      throw mapError(e);
    }
  };
}

/** A role's async-iterable method behind the guard: checked before the first item, every error mapped. */
export function guardedStream(method: AnyMethod, { ready, mapError }: AsyncGuard): AnyMethod {
  return async function* (...a: unknown[]) {
    try {
      if (ready) await ready();
      yield* method(...a) as AsyncIterable<unknown>;
    } catch (e) {
      throw mapError(e);
    }
  };
}
