import type {
  Actor,
  AuditListOptions,
  EventListOptions,
  SubjectPatch,
} from '../../core/admin-types.js';
import type { QuotaPolicy } from '../../core/policy.js';
import { resultOf } from '../dry-run.js';
import type { ConsumeOptions, ImportedSubject, ListOptions, NewSubject } from '../../core/types.js';
import type {
  BackupRecord,
  CloseBatchRequest,
  JobMetricSample,
  QuotaStore,
  StoreCapabilities,
  SubjectUsage,
  ThresholdNotice,
  StoredApiKey,
  StoredSession,
} from '../quota-store.js';
import { SqliteClose } from './close.js';
import {
  assertMigrated,
  migrate,
  openSqlite,
  schemaVersion,
  type Db,
  type SqliteOptions,
} from './connection.js';
import { SQLITE_SCHEMA_VERSION } from './migrations.js';
import { exportSqlite, importSqlite } from './backup.js';
import { SqliteSubjects } from './subjects.js';
import { SqliteUsage } from './usage.js';
import { SqliteMonitoring } from './monitoring.js';
import { SqliteAdmin } from './admin.js';
import { verifySqlite } from './verify.js';

/**
 * The default embedded store. better-sqlite3 is synchronous; every operation
 * that writes runs in one IMMEDIATE transaction, which takes SQLite's single
 * write lock up front, so check-and-write can never interleave across
 * processes.
 */
export class SqliteStore implements QuotaStore {
  readonly engine = 'sqlite';
  readonly capabilities: StoreCapabilities = {
    multiWriter: false,
    shardedClose: false,
    preResetExport: false,
    leaseLiveness: 'process',
  };
  readonly db: Db;
  private parts:
    | {
        subjects: SqliteSubjects;
        usage: SqliteUsage;
        close: SqliteClose;
        monitoring: SqliteMonitoring;
        admin: SqliteAdmin;
      }
    | undefined;

  constructor(
    private readonly options: SqliteOptions,
    private readonly policy: QuotaPolicy,
  ) {
    this.db = openSqlite(options);
  }

  /** Statements are prepared lazily: they need the schema, which `migrate` may be about to create. */
  private get p() {
    if (!this.parts) {
      this.assertReady();
      const subjects = new SqliteSubjects(this.db, this.policy);
      this.parts = {
        subjects,
        usage: new SqliteUsage(this.db, this.policy, subjects),
        close: new SqliteClose(this.db, this.policy),
        monitoring: new SqliteMonitoring(this.db, this.policy),
        admin: new SqliteAdmin(this.db, subjects),
      };
    }
    return this.parts;
  }

  async migrate() {
    return migrate(this.db);
  }

  /** The schema is current, or is made current here when the store was opened with autoMigrate. */
  private assertReady(): void {
    if (this.options.autoMigrate && schemaVersion(this.db) < SQLITE_SCHEMA_VERSION)
      migrate(this.db);
    assertMigrated(this.db, this.options.path);
  }

  async close() {
    if (this.db.open) this.db.close();
  }

  async addSubject(s: NewSubject, nowMs: number, actor?: Actor) {
    return this.p.subjects.add(s, nowMs, actor);
  }
  async upsertSubjects(
    s: readonly ImportedSubject[],
    nowMs: number,
    opts: { dryRun?: boolean } = {},
  ) {
    return resultOf(() => this.p.subjects.upsertMany(s, nowMs, opts.dryRun));
  }
  async getSubject(id: string) {
    return this.p.subjects.get(id);
  }
  async listSubjects(opts?: ListOptions) {
    return this.p.subjects.list(opts);
  }
  async setPlan(id: string, plan: string, nowMs: number, actor?: Actor) {
    return this.p.subjects.setPlan(id, plan, nowMs, actor);
  }
  async setOverride(...a: Parameters<QuotaStore['setOverride']>) {
    return this.p.subjects.setOverride(...a);
  }
  async suspend(id: string, reason: string | null, nowMs: number, actor?: Actor) {
    return this.p.subjects.suspend(id, reason, nowMs, actor);
  }
  async unsuspend(id: string, nowMs: number, actor?: Actor) {
    return this.p.subjects.unsuspend(id, nowMs, actor);
  }

  async consume(
    id: string,
    feature: string,
    amount: number,
    opts: ConsumeOptions & { now: number },
  ) {
    return this.p.usage.consume(
      id,
      feature,
      amount,
      opts.key,
      opts.meta,
      opts.now,
      opts.fingerprint,
    );
  }
  async refund(id: string, key: string, nowMs: number) {
    return this.p.usage.refund(id, key, nowMs);
  }
  async status(id: string, nowMs: number) {
    return this.p.usage.status(id, nowMs);
  }
  async history(id: string) {
    return this.p.usage.history(id);
  }
  async resetSubject(
    id: string,
    nowMs: number,
    opts: { dryRun?: boolean; reason?: string; operation?: string; actor?: Actor } = {},
  ) {
    return this.p.usage.resetSubject(
      id,
      nowMs,
      opts.dryRun ?? false,
      opts.reason,
      opts.operation,
      opts.actor,
    );
  }
  async subjectsAtLimit(nowMs: number, limit = 1000) {
    const ids = this.p.usage.atLimit(nowMs, limit);
    return ids.map((id) => this.p.subjects.get(id)!).filter(Boolean);
  }

  async acquireLease(name: string, holder: string, ttlMs: number, nowMs: number) {
    return this.p.close.acquireLease(name, holder, ttlMs, nowMs);
  }
  async renewLease(name: string, holder: string, ttlMs: number, nowMs: number) {
    return this.p.close.renewLease(name, holder, ttlMs, nowMs);
  }
  async currentLease(name: string) {
    return this.p.close.currentLease(name);
  }
  async takeOverLease(name: string, from: string, holder: string, ttlMs: number, nowMs: number) {
    return this.p.close.takeOverLease(name, from, holder, ttlMs, nowMs);
  }
  async releaseLease(name: string, holder: string) {
    this.p.close.releaseLease(name, holder);
  }
  async pendingPeriods(nowMs: number) {
    return this.p.close.pendingPeriods(nowMs);
  }
  async openCount(key: string, nowMs: number) {
    return this.p.close.openCount(key, nowMs);
  }
  async getRun(key: string) {
    return this.p.close.getRun(key);
  }
  async listRuns(limit = 100) {
    return this.p.close.listRuns(limit);
  }
  async unfinishedRuns() {
    return this.p.close.unfinishedRuns();
  }
  async beginRun(
    key: string,
    holder: string,
    nowMs: number,
    period: { startMs: number; endMs: number },
  ) {
    return this.p.close.beginRun(key, holder, nowMs, period);
  }
  async closeBatch(req: CloseBatchRequest) {
    return this.p.close.closeBatch(req);
  }
  async previewBatch(nowMs: number, cursor: string | null, batchSize: number) {
    return this.p.close.previewBatch(nowMs, cursor, batchSize);
  }
  async finishRun(...a: Parameters<QuotaStore['finishRun']>) {
    return this.p.close.finishRun(...a);
  }
  async prune(olderThanMs: number, nowMs?: number) {
    return this.p.close.prune(olderThanMs, nowMs ?? Date.now());
  }

  async verify(nowMs: number) {
    this.assertReady();
    return verifySqlite(this.db, this.policy, nowMs);
  }
  async *exportRecords(): AsyncIterable<BackupRecord> {
    this.assertReady();
    yield* exportSqlite(this.db);
  }
  async importRecords(records: readonly BackupRecord[]) {
    this.assertReady();
    return importSqlite(this.db, records);
  }
  // --- notifications, reports and metrics ---
  async claimThresholdNotice(notice: ThresholdNotice, nowMs: number) {
    return this.p.monitoring.claimThresholdNotice(notice, nowMs);
  }
  async recordJobMetrics(samples: readonly JobMetricSample[], nowMs: number) {
    this.p.monitoring.recordJobMetrics(samples, nowMs);
  }
  async jobMetrics() {
    return this.p.monitoring.jobMetrics();
  }
  async consumeTotals() {
    return this.p.monitoring.consumeTotals();
  }
  async usageBuckets(fromMs: number, toMs: number, bucketMs: number) {
    return this.p.monitoring.usageBuckets(fromMs, toMs, bucketMs);
  }
  async *periodUsage(key: string, endMs: number): AsyncIterable<SubjectUsage> {
    yield* this.p.monitoring.periodUsage(key, endMs);
  }
  async *windowUsage(fromMs: number, toMs: number): AsyncIterable<SubjectUsage> {
    yield* this.p.monitoring.windowUsage(fromMs, toMs);
  }

  // --- the service ---
  async updateSubject(id: string, patch: SubjectPatch, nowMs: number, actor?: Actor) {
    return this.p.subjects.update(id, patch, nowMs, actor);
  }
  async subjectEvents(id: string, opts: EventListOptions = {}) {
    return this.p.usage.events(id, opts);
  }
  async createApiKey(key: StoredApiKey, actor: Actor) {
    return this.p.admin.createKey(key, actor);
  }
  async listApiKeys() {
    return this.p.admin.listKeys();
  }
  async apiKeyByHash(hash: string) {
    return this.p.admin.keyByHashOf(hash);
  }
  async revokeApiKey(idOrPrefix: string, nowMs: number, actor: Actor) {
    return this.p.admin.revokeKey(idOrPrefix, nowMs, actor);
  }
  async createSession(session: StoredSession) {
    this.p.admin.createSession(session);
  }
  async lookupSession(hash: string, nowMs: number) {
    return this.p.admin.lookupSession(hash, nowMs);
  }
  async deleteSession(hash: string) {
    this.p.admin.deleteSession(hash);
  }
  async listAudit(opts: AuditListOptions = {}) {
    return this.p.admin.listAudit(opts);
  }
}
