import type {
  Actor,
  AuditListOptions,
  EventListOptions,
  SubjectPatch,
} from '../../core/admin-types.js';
import type { StoredApiKey, StoredSession } from '../quota-store.js';
import { PgService } from './service.js';
import { QuotaClockError } from '../../core/errors.js';
import type { Limit } from '../../core/plans.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { ConsumeOptions, ImportedSubject, ListOptions, NewSubject } from '../../core/types.js';
import type {
  BackupRecord,
  CloseBatchRequest,
  JobMetricSample,
  QuotaStore,
  StoreCapabilities,
  SubjectUsage,
  ThresholdNotice,
} from '../quota-store.js';
import { exportPostgres, importPostgres } from './backup.js';
import { PgClose } from './close.js';
import type { PostgresOptions } from './config.js';
import { PgConsume } from './consume.js';
import { PgLease } from './lease.js';
import { PgLedger } from './ledger.js';
import { PgMonitoring } from './monitoring.js';
import { assertMigrated, migratePostgres } from './migrations.js';
import { PgDb, pgCode } from './pool.js';
import { PgSubjects } from './subjects.js';
import { PgUsage } from './usage.js';
import { verifyPostgres } from './verify.js';
import { dropped } from '../shared/debug-log.js';

/** Errors the caller cannot act on by code become STORE_FAILURE; coded errors pass through. */
function mapError(e: unknown): unknown {
  if (e instanceof QuotaClockError) return e;
  const code = pgCode(e);
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    return new QuotaClockError(
      'STORE_FAILURE',
      `PostgreSQL error ${code}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return e;
}

/**
 * The scale store: many processes and hosts write at once. Every consume is
 * one guarded statement; the job closes subjects with set-based conditional
 * updates, and sharded workers split subjects by a hash of their id.
 */
export class PostgresStore implements QuotaStore {
  readonly engine = 'postgres';
  readonly capabilities: StoreCapabilities = {
    multiWriter: true,
    shardedClose: true,
    preResetExport: false,
    leaseLiveness: 'session',
  };
  readonly db: PgDb;
  private readonly subjects: PgSubjects;
  private readonly usage: PgUsage;
  private readonly consumer: PgConsume;
  private readonly ledger: PgLedger;
  private readonly leases: PgLease;
  private readonly closer: PgClose;
  private readonly monitoring: PgMonitoring;
  private readonly service: PgService;
  private ready: Promise<void> | undefined;

  constructor(
    options: PostgresOptions,
    private readonly policy: QuotaPolicy,
  ) {
    this.db = new PgDb(options);
    this.subjects = new PgSubjects(this.db, policy);
    this.usage = new PgUsage(this.db, policy, this.subjects);
    this.consumer = new PgConsume(this.db, policy, this.subjects);
    this.ledger = new PgLedger(this.db);
    this.leases = new PgLease(this.db);
    this.closer = new PgClose(this.db, policy);
    this.monitoring = new PgMonitoring(this.db, policy);
    this.service = new PgService(this.db, this.subjects);
  }

  /** Checks the schema version once, on first use (migrate may be about to create it). */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (!this.ready) {
        this.ready = assertMigrated(this.db);
        // The await below reports the failure; forgetting it lets the next call check again.
        this.ready.catch((e: unknown) => {
          dropped('the schema check', 'the caller awaiting it gets the error')(e);
          this.ready = undefined;
        });
      }
      await this.ready;
      return await fn();
    } catch (e) {
      throw mapError(e);
    }
  }

  /**
   * A change to subjects made through this instance also drops them from the
   * consume cache. (Changes from elsewhere are caught by the consume
   * statement itself; this only saves a wasted round trip.)
   */
  private async changing<T>(ids: Iterable<string> | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.run(fn);
    } finally {
      this.consumer.forget(ids);
    }
  }

  async migrate() {
    try {
      const out = await migratePostgres(this.db);
      this.ready = Promise.resolve();
      return out;
    } catch (e) {
      throw mapError(e);
    }
  }

  async close() {
    await this.leases.end();
    await this.db.end();
  }

  addSubject(s: NewSubject, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.add(s, nowMs, actor));
  }
  upsertSubjects(s: readonly ImportedSubject[], nowMs: number, opts: { dryRun?: boolean } = {}) {
    return this.changing(
      s.map((x) => x.id),
      () => this.subjects.upsertMany(s, nowMs, opts.dryRun),
    );
  }
  getSubject(id: string) {
    return this.run(() => this.subjects.get(id));
  }
  listSubjects(opts?: ListOptions) {
    return this.run(() => this.subjects.list(opts));
  }
  setPlan(id: string, plan: string, nowMs: number, actor?: Actor) {
    return this.changing([id], () => this.subjects.setPlan(id, plan, nowMs, actor));
  }
  setOverride(id: string, feature: string, limit: Limit | undefined, nowMs: number, actor?: Actor) {
    return this.changing([id], () => this.subjects.setOverride(id, feature, limit, nowMs, actor));
  }
  suspend(id: string, reason: string | null, nowMs: number, actor?: Actor) {
    return this.changing([id], () => this.subjects.suspend(id, reason, nowMs, actor));
  }
  unsuspend(id: string, nowMs: number, actor?: Actor) {
    return this.changing([id], () => this.subjects.unsuspend(id, nowMs, actor));
  }

  consume(id: string, feature: string, amount: number, opts: ConsumeOptions & { now: number }) {
    return this.run(() =>
      this.consumer.consume(
        id,
        feature,
        amount,
        opts.key,
        opts.meta,
        opts.now,
        opts.fingerprint ?? null,
      ),
    );
  }
  refund(id: string, key: string, nowMs: number) {
    return this.run(() => this.usage.refund(id, key, nowMs));
  }
  status(id: string, nowMs: number) {
    return this.run(() => this.usage.status(id, nowMs));
  }
  history(id: string) {
    return this.run(() => this.usage.history(id));
  }
  resetSubject(
    id: string,
    nowMs: number,
    opts: { dryRun?: boolean; reason?: string; operation?: string; actor?: Actor } = {},
  ) {
    return this.run(() =>
      this.usage.resetSubject(
        id,
        nowMs,
        opts.dryRun ?? false,
        opts.reason,
        opts.operation,
        opts.actor,
      ),
    );
  }
  subjectsAtLimit(nowMs: number, limit = 1000) {
    return this.run(async () => {
      const ids = await this.usage.atLimit(nowMs, limit);
      const found = await Promise.all(ids.map((id) => this.subjects.get(id)));
      return found.filter((s) => s !== null);
    });
  }

  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number) {
    return this.run(() => this.leases.acquire(name, holder, ttlMs, nowMs));
  }
  renewLease(name: string, holder: string, ttlMs: number, nowMs: number) {
    return this.run(() => this.leases.renew(name, holder, ttlMs, nowMs));
  }
  currentLease(name: string) {
    return this.run(() => this.leases.current(name));
  }
  takeOverLease(name: string, from: string, holder: string, ttlMs: number, nowMs: number) {
    return this.run(() => this.leases.takeOver(name, from, holder, ttlMs, nowMs));
  }
  releaseLease(name: string, holder: string) {
    return this.run(() => this.leases.release(name, holder));
  }
  pendingPeriods(nowMs: number) {
    return this.run(() => this.closer.pendingPeriods(nowMs));
  }
  openCount(key: string, nowMs: number) {
    return this.run(() => this.closer.openCount(key, nowMs));
  }
  getRun(key: string) {
    return this.run(() => this.ledger.getRun(key));
  }
  listRuns(limit = 100) {
    return this.run(() => this.ledger.listRuns(limit));
  }
  unfinishedRuns() {
    return this.run(() => this.ledger.unfinishedRuns());
  }
  beginRun(key: string, holder: string, nowMs: number, period: { startMs: number; endMs: number }) {
    return this.run(() => this.ledger.beginRun(key, holder, nowMs, period));
  }
  closeBatch(req: CloseBatchRequest) {
    return this.run(() => this.closer.closeBatch(req));
  }
  previewBatch(nowMs: number, cursor: string | null, batchSize: number) {
    return this.run(() => this.closer.previewBatch(nowMs, cursor, batchSize));
  }
  finishRun(...a: Parameters<QuotaStore['finishRun']>) {
    return this.run(() => this.ledger.finishRun(...a));
  }
  prune(olderThanMs: number, nowMs?: number) {
    return this.run(() => this.closer.prune(olderThanMs, nowMs ?? Date.now()));
  }

  verify(nowMs: number) {
    return this.run(() => verifyPostgres(this.db, this.policy, nowMs));
  }
  async *exportRecords(): AsyncIterable<BackupRecord> {
    await this.run(async () => undefined);
    try {
      yield* exportPostgres(this.db);
    } catch (e) {
      throw mapError(e);
    }
  }
  importRecords(records: readonly BackupRecord[]) {
    return this.changing(undefined, () => importPostgres(this.db, records));
  }
  // --- notifications, reports and metrics ---
  claimThresholdNotice(notice: ThresholdNotice, nowMs: number) {
    return this.run(() => this.monitoring.claimThresholdNotice(notice, nowMs));
  }
  recordJobMetrics(samples: readonly JobMetricSample[], nowMs: number) {
    return this.run(() => this.monitoring.recordJobMetrics(samples, nowMs));
  }
  jobMetrics() {
    return this.run(() => this.monitoring.jobMetrics());
  }
  consumeTotals() {
    return this.run(() => this.monitoring.consumeTotals());
  }
  usageBuckets(fromMs: number, toMs: number, bucketMs: number) {
    return this.run(() => this.monitoring.usageBuckets(fromMs, toMs, bucketMs));
  }
  async *periodUsage(key: string, endMs: number): AsyncIterable<SubjectUsage> {
    await this.run(async () => undefined);
    try {
      yield* this.monitoring.periodUsage(key, endMs);
    } catch (e) {
      throw mapError(e);
    }
  }
  async *windowUsage(fromMs: number, toMs: number): AsyncIterable<SubjectUsage> {
    await this.run(async () => undefined);
    try {
      yield* this.monitoring.windowUsage(fromMs, toMs);
    } catch (e) {
      throw mapError(e);
    }
  }

  // --- the service ---
  updateSubject(id: string, patch: SubjectPatch, nowMs: number, actor?: Actor) {
    return this.changing([id], () => this.subjects.update(id, patch, nowMs, actor));
  }
  subjectEvents(id: string, opts: EventListOptions = {}) {
    return this.run(() => this.usage.events(id, opts));
  }
  createApiKey(key: StoredApiKey, actor: Actor) {
    return this.run(() => this.service.createKey(key, actor));
  }
  listApiKeys() {
    return this.run(() => this.service.listKeys());
  }
  apiKeyByHash(hash: string) {
    return this.run(() => this.service.keyByHash(hash));
  }
  revokeApiKey(idOrPrefix: string, nowMs: number, actor: Actor) {
    return this.run(() => this.service.revokeKey(idOrPrefix, nowMs, actor));
  }
  createSession(session: StoredSession) {
    return this.run(() => this.service.createSession(session));
  }
  lookupSession(hash: string, nowMs: number) {
    return this.run(() => this.service.lookupSession(hash, nowMs));
  }
  deleteSession(hash: string) {
    return this.run(() => this.service.deleteSession(hash));
  }
  listAudit(opts: AuditListOptions = {}) {
    return this.run(() => this.service.listAudit(opts));
  }
}
