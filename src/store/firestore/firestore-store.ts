import type {
  Actor,
  AuditListOptions,
  EventListOptions,
  SubjectPatch,
} from '../../core/admin-types.js';
import type { StoredApiKey, StoredSession } from '../quota-store.js';
import { dropped } from '../shared/debug-log.js';
import { isUnfinishedRun } from '../shared/ledger-rules.js';
import { FsService } from './service.js';
import { createHash } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import type { Limit } from '../../core/plans.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type {
  ConsumeItem,
  ConsumeOptions,
  ImportedSubject,
  ListOptions,
  NewSubject,
} from '../../core/types.js';
import type {
  BackupRecord,
  CloseBatchRequest,
  JobMetricSample,
  QuotaStore,
  RunCheckpoint,
  RunStatus,
  StoreCapabilities,
  SubjectUsage,
  ThresholdNotice,
} from '../quota-store.js';
import { exportFirestore } from './backup-export.js';
import { importFirestore } from './backup-import.js';
import { createFirestore, GRPC, grpcCode, mapFirestoreError } from './client.js';
import { FsCloser } from './close-batch.js';
import type { FirestoreOptions } from './config.js';
import { FsContext } from './context.js';
import { FsLease } from './lease.js';
import { FsLedger } from './ledger.js';
import { FsOpenPeriods } from './open-periods.js';
import { previewBatch } from './preview.js';
import { pruneClosed } from './prune.js';
import { COLLECTIONS, legacyEnd, parseQuotaDoc, ts } from './layout.js';
import { exportBeforeReset } from './pre-reset-export.js';
import { pages } from './snapshot.js';
import { FsSubjects } from './subjects.js';
import { consumeCounts, FsMonitoring } from './monitoring.js';
import { FsUsage } from './usage.js';
import { verifyFirestore } from './verify.js';

export const FIRESTORE_SCHEMA_VERSION = 1;

/**
 * The earlier system's Firestore layout (userQuotas/{uid} and its
 * usage_history), read and written in place. Every change to a subject is one
 * Firestore transaction on its document; the reset job closes subjects with
 * the BulkWriter, each write conditional on the version it read. Many
 * processes and hosts may write at once.
 */
export class FirestoreStore implements QuotaStore {
  readonly engine = 'firestore';
  readonly capabilities: StoreCapabilities = {
    multiWriter: true,
    shardedClose: false,
    preResetExport: true,
    leaseLiveness: 'process',
  };
  readonly db: Firestore;
  private readonly ctx: FsContext;
  private readonly subjects: FsSubjects;
  private readonly usage: FsUsage;
  private readonly openPeriods: FsOpenPeriods;
  private readonly ledger: FsLedger;
  private readonly closer: FsCloser;
  private readonly monitoring: FsMonitoring;
  private readonly service: FsService;
  private readonly leases: FsLease;

  constructor(
    readonly options: FirestoreOptions,
    private readonly policy: QuotaPolicy,
    clock: () => number = Date.now,
  ) {
    this.db = createFirestore(options);
    this.ctx = new FsContext(this.db, policy, clock);
    this.subjects = new FsSubjects(this.ctx);
    this.usage = new FsUsage(this.ctx);
    this.openPeriods = new FsOpenPeriods(this.ctx);
    this.ledger = new FsLedger(this.ctx);
    this.closer = new FsCloser(this.ctx, this.ledger, options.bulkOpsPerSecond);
    this.monitoring = new FsMonitoring(this.ctx);
    this.service = new FsService(this.ctx);
    this.leases = new FsLease(this.ctx);
  }

  /** Every call maps driver errors to coded ones (and never echoes credentials). */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapFirestoreError(e);
    }
  }

  /**
   * Nothing to create in Firestore. Records the layout version and gives
   * documents the old code left without current_period_start/end those
   * fields (from last_reset, updated_at or created_at), so the reset job's
   * indexed scans find them.
   */
  migrate(): Promise<{ applied: number[]; current: number }> {
    return this.run(async () => {
      const ref = this.db.collection(COLLECTIONS.meta).doc('schema');
      const snap = await ref.get();
      const nowMs = this.ctx.now();
      const bw = this.db.bulkWriter();
      for await (const page of pages(
        this.ctx
          .quotas()
          .select(
            'current_period_start',
            'current_period_end',
            'last_reset',
            'updated_at',
            'created_at',
            'lifetime_stats.member_since',
            'quotaclock.time_zone',
            'quotaclock.anchor',
          ),
      )) {
        for (const s of page) {
          const d = parseQuotaDoc(this.policy, s, nowMs);
          if (d.hasPeriodFields) continue;
          void bw
            .update(
              s.ref,
              {
                current_period_start: ts(d.current.startMs),
                current_period_end: legacyEnd(d.current),
              },
              { lastUpdateTime: s.updateTime },
            )
            .catch(
              dropped(
                `placing ${s.ref.path} in time`,
                'the reset also scans documents without the fields, and the next migrate retries',
              ),
            );
        }
      }
      await bw.close();
      const version = Number(snap.get('version') ?? 0);
      if (version >= FIRESTORE_SCHEMA_VERSION) return { applied: [], current: version };
      await ref.set({ version: FIRESTORE_SCHEMA_VERSION, updated_at: ts(nowMs) });
      return { applied: [FIRESTORE_SCHEMA_VERSION], current: FIRESTORE_SCHEMA_VERSION };
    });
  }

  async close(): Promise<void> {
    await this.db
      .terminate()
      .catch(dropped('closing the Firestore client', 'it is discarded and holds no writes'));
  }

  addSubject(s: NewSubject, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.add(s, nowMs, actor));
  }
  upsertSubjects(s: readonly ImportedSubject[], nowMs: number, opts: { dryRun?: boolean } = {}) {
    return this.run(() => this.subjects.upsertMany(s, nowMs, opts.dryRun));
  }
  getSubject(id: string) {
    return this.run(() => this.subjects.get(id, this.ctx.now()));
  }
  listSubjects(opts: ListOptions = {}) {
    return this.run(() => this.subjects.list(opts, this.ctx.now()));
  }
  setPlan(id: string, plan: string, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.setPlan(id, plan, nowMs, actor));
  }
  setOverride(id: string, feature: string, limit: Limit | undefined, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.setOverride(id, feature, limit, nowMs, actor));
  }
  suspend(id: string, reason: string | null, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.suspend(id, reason, nowMs, actor));
  }
  unsuspend(id: string, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.unsuspend(id, nowMs, actor));
  }

  consume(id: string, feature: string, amount: number, opts: ConsumeOptions & { now: number }) {
    return this.run(() =>
      this.usage.consume(
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
  consumeMany(items: readonly ConsumeItem[], nowMs: number) {
    return this.run(() => this.usage.consumeMany(items, nowMs));
  }
  refund(id: string, key: string, nowMs: number, actor?: Actor) {
    return this.run(() => this.usage.refund(id, key, nowMs, actor));
  }
  status(id: string, nowMs: number) {
    return this.run(() => this.usage.status(id, nowMs));
  }
  history(id: string) {
    return this.run(() => this.usage.history(id, this.ctx.now()));
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
    return this.run(() => this.usage.atLimit(nowMs, limit));
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
    return this.run(() => this.openPeriods.pendingPeriods(nowMs));
  }
  openCount(key: string, nowMs: number) {
    return this.run(() => this.openPeriods.openCount(key, nowMs));
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

  /**
   * Opens (or resumes) the ledger entry of a key. With backup_dir set, the
   * documents about to close are exported first, before the reset writes
   * anything; a resumed run keeps the export its first attempt made.
   */
  beginRun(key: string, holder: string, nowMs: number, period: { startMs: number; endMs: number }) {
    return this.run(async () => {
      let extra: Record<string, unknown> = {};
      if (this.options.backupDir) {
        const snap = await this.ctx.runRef(key).get();
        const resumed =
          snap.exists &&
          isUnfinishedRun(snap.get('status') as RunStatus) &&
          typeof snap.get('pre_reset_export') === 'string';
        if (!resumed) {
          const done = await exportBeforeReset(
            this.ctx,
            this.options.backupDir,
            key,
            nowMs,
            this.options.projectId,
          );
          extra = { pre_reset_export: done.path, pre_reset_documents: done.documents };
        }
      }
      return this.ledger.beginRun(key, holder, nowMs, period, extra);
    });
  }
  closeBatch(req: CloseBatchRequest) {
    return this.run(() => this.closer.closeBatch(req));
  }
  previewBatch(nowMs: number, cursor: string | null, batchSize: number) {
    return this.run(() => previewBatch(this.ctx, nowMs, cursor, batchSize));
  }
  finishRun(
    key: string,
    status: 'closed' | 'partial' | 'failed',
    nowMs: number,
    error?: string,
    checkpoint?: RunCheckpoint,
  ) {
    return this.run(() => this.ledger.finishRun(key, status, nowMs, error, checkpoint));
  }
  prune(olderThanMs: number, nowMs?: number) {
    return this.run(() =>
      pruneClosed(this.ctx, this.options.bulkOpsPerSecond, olderThanMs, (gone) =>
        this.monitoring.archivePruned(consumeCounts(gone), nowMs ?? this.ctx.now()),
      ),
    );
  }

  verify(nowMs: number) {
    return this.run(() => verifyFirestore(this.ctx, nowMs));
  }
  async *exportRecords(): AsyncIterable<BackupRecord> {
    try {
      yield* exportFirestore(this.ctx, this.ctx.now());
    } catch (e) {
      throw mapFirestoreError(e);
    }
  }
  importRecords(records: readonly BackupRecord[]) {
    return this.run(() => importFirestore(this.ctx, records));
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
    try {
      yield* this.monitoring.periodUsage(key, endMs);
    } catch (e) {
      throw mapFirestoreError(e);
    }
  }
  async *windowUsage(fromMs: number, toMs: number): AsyncIterable<SubjectUsage> {
    try {
      yield* this.monitoring.windowUsage(fromMs, toMs);
    } catch (e) {
      throw mapFirestoreError(e);
    }
  }

  /** A notice document per subject, feature, period and threshold: only its creator gets true. */
  claimThresholdNotice(notice: ThresholdNotice, nowMs: number) {
    return this.run(async () => {
      const id = createHash('sha256')
        .update(
          `${notice.subject}\u0000${notice.feature}\u0000${notice.periodStartMs}\u0000${notice.threshold}`,
        )
        .digest('hex')
        .slice(0, 40);
      try {
        await this.db
          .collection('quotaclockNotices')
          .doc(id)
          .create({
            subject: notice.subject,
            feature: notice.feature,
            period_start: ts(notice.periodStartMs),
            period_end: ts(notice.periodEndMs),
            threshold: notice.threshold,
            at: ts(nowMs),
          });
        return true;
      } catch (e) {
        if (grpcCode(e) === GRPC.ALREADY_EXISTS) return false;
        throw e;
      }
    });
  }

  // --- the service ---
  updateSubject(id: string, patch: SubjectPatch, nowMs: number, actor?: Actor) {
    return this.run(() => this.subjects.update(id, patch, nowMs, actor));
  }
  subjectEvents(id: string, opts: EventListOptions = {}) {
    return this.run(() => this.usage.events(id, opts, this.ctx.now()));
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
