import type { CloseTotals } from '../core/close-summary.js';
import type { Limit, Limits } from '../core/plans.js';
import type {
  ConsumeItem,
  ConsumeOptions,
  ConsumeResult,
  ItemOutcome,
  HistoryEntry,
  ImportedSubject,
  ListOptions,
  NewSubject,
  Page,
  RefundResult,
  ResetSubjectResult,
  StatusResult,
  Subject,
  UpsertResult,
} from '../core/types.js';
import type {
  Actor,
  ApiKeyInfo,
  AuditEntry,
  AuditListOptions,
  EventListOptions,
  Scope,
  SubjectPatch,
  UsageEventView,
} from '../core/admin-types.js';

/** What openCount found for one key. */
export interface OpenCount {
  ended: number;
  notYetEnded: number;
  pending?: PendingPeriod[];
}

/**
 * Differences between engines are declared here, never tested with
 * `engine === …` elsewhere.
 */
export interface StoreCapabilities {
  /** Several OS processes or hosts may write at once. */
  readonly multiWriter: boolean;
  /** Period close can be split into `--shard i/n` workers. */
  readonly shardedClose: boolean;
  /** Native JSONL backup of the engine's own documents before a reset. */
  readonly preResetExport: boolean;
  /**
   * How a lease holder that died (kill -9, OOM) is told apart from a live one,
   * so its lease is taken over at once instead of after it expires.
   * 'session': the store records the holder's own database session with the
   * lease and sees whether it still exists, whatever host the holder ran on.
   * 'process': only the holder id's host and pid tell, so only a holder that
   * ran on this host (the same pid namespace) can be found dead.
   */
  readonly leaseLiveness: 'session' | 'process';
}

export interface SubjectRow extends Subject {
  /** Start of the subject's first period not yet closed (epoch ms). */
  readonly closedThroughMs: number;
  /** End of that period (epoch ms). */
  readonly openEndMs: number;
  /** Key of that period. */
  readonly openKey: string;
}

export interface Lease {
  readonly name: string;
  readonly holder: string;
  readonly expiresMs: number;
  /**
   * From currentLease on a store with leaseLiveness 'session': whether the
   * holder's database session still exists. Absent where the store cannot
   * tell (the other engines, or a row written before the store recorded it).
   */
  readonly holderAlive?: boolean;
}

/**
 * closed: no subject has this period open any more. partial: everything that
 * had ended was closed, but some subjects (later zones, anniversaries) reach
 * the end of this period later; a later run finishes it.
 */
export type RunStatus = 'running' | 'closed' | 'partial' | 'failed';

/** Per plan, per feature. */
export type CloseSummary = CloseTotals;

export interface RunCheckpoint {
  /** Opaque engine cursor; subjects at or before it in this pass are done. */
  readonly cursor: string | null;
  readonly subjects: number;
  readonly summary: CloseSummary;
}

export interface RunRecord {
  readonly key: string;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly attempts: number;
  readonly holder: string | null;
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
  readonly checkpoint: RunCheckpoint;
  readonly error: string | null;
}

export interface PendingPeriod {
  readonly key: string;
  /** Subjects with this period ended and open. */
  readonly subjects: number;
  /** Earliest start and latest end over those subjects (epoch ms). */
  readonly startMs: number;
  readonly endMs: number;
}

export interface CloseBatchRequest {
  readonly key: string;
  readonly nowMs: number;
  readonly cursor: string | null;
  readonly batchSize: number;
  /** When false, nothing is written; the result says what would have happened. */
  readonly write: boolean;
  /** Optional shard: only subjects whose hash falls in shard index of count. */
  readonly shard?: { readonly index: number; readonly count: number };
  /**
   * The ledger row that receives the batch's checkpoint; defaults to `key`.
   * A sharded close keeps one row per shard (`<key>#shard-i-of-n`).
   */
  readonly ledgerKey?: string;
}

export interface CloseBatchResult {
  /** Subjects whose period `key` was closed by this call (or would be). */
  readonly closed: number;
  readonly summary: CloseSummary;
  /** null when the pass is complete. */
  readonly cursor: string | null;
}

export interface PreviewBatchResult {
  /** What a real run would close, per period key, for the subjects of this batch. */
  readonly byKey: Record<
    string,
    { subjects: number; startMs: number; endMs: number; summary: CloseSummary }
  >;
  readonly cursor: string | null;
}

export interface IntegrityViolation {
  readonly kind:
    | 'unknown_plan'
    | 'counter_mismatch'
    | 'over_limit'
    | 'open_period'
    | 'run_unfinished'
    | 'usage_after_close';
  readonly subject: string | null;
  readonly message: string;
}

export interface BackupRecord {
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * The persistence contract. Every engine passes the same contract suite.
 * Decisions (limits, periods) come from the QuotaPolicy the store was opened
 * with; the store's job is to make each operation atomic. It is the
 * intersection of its roles, each an interface of its own below.
 */
export interface QuotaStore
  extends
    StoreSubjects,
    StoreUsage,
    StoreService,
    StoreLeases,
    StoreLedger,
    StoreCloser,
    StoreBackup,
    StoreMonitoring {
  readonly engine: string;
  readonly capabilities: StoreCapabilities;
  /** Creates or upgrades the schema; idempotent. */
  migrate(): Promise<{ applied: number[]; current: number }>;
  close(): Promise<void>;
}

/** Subjects and their plans, overrides and suspension. */
export interface StoreSubjects {
  /** Admin writes take the actor and record an audit entry with the change (default actor: cli). */
  addSubject(subject: NewSubject, nowMs: number, actor?: Actor): Promise<Subject>;
  /**
   * Adds or updates many subjects in one all-or-nothing step, with their
   * suspension and imported usage (ImportedSubject) when given. With
   * `dryRun`, the same work is done and rolled back: nothing is written and
   * the result is exactly what the write would report.
   */
  upsertSubjects(
    subjects: readonly ImportedSubject[],
    nowMs: number,
    opts?: { dryRun?: boolean },
  ): Promise<UpsertResult>;
  getSubject(id: string): Promise<Subject | null>;
  listSubjects(opts?: ListOptions): Promise<Page<Subject>>;
  setPlan(id: string, plan: string, nowMs: number, actor?: Actor): Promise<Subject>;
  setOverride(
    id: string,
    feature: string,
    limit: Limit | undefined,
    nowMs: number,
    actor?: Actor,
  ): Promise<Subject>;
  suspend(id: string, reason: string | null, nowMs: number, actor?: Actor): Promise<Subject>;
  unsuspend(id: string, nowMs: number, actor?: Actor): Promise<Subject>;
  /** Time zone, email or display name; fields left out are kept. */
  updateSubject(id: string, patch: SubjectPatch, nowMs: number, actor?: Actor): Promise<Subject>;
}

/** Consume, refund and what a subject has used. */
export interface StoreUsage {
  consume(
    id: string,
    feature: string,
    amount: number,
    opts: ConsumeOptions & { now: number },
  ): Promise<ConsumeResult>;
  /**
   * Many consumes at one instant, with far fewer commits than one each (one
   * transaction on the SQL engines; Firestore, one per subject). Each item
   * is decided exactly as `consume` would decide it, in order, so items on
   * one subject see the earlier ones' effect, and a key repeated within the
   * call replays the first. An item that `consume` would refuse with a 4xx
   * error gets it as its outcome and the others go on; a store failure
   * rejects the whole call. Outcomes come in the items' order.
   */
  consumeMany(items: readonly ConsumeItem[], nowMs: number): Promise<ItemOutcome<ConsumeResult>[]>;
  /** With an actor (an admin's refund), an `event.refund` audit entry is written with it. */
  refund(id: string, key: string, nowMs: number, actor?: Actor): Promise<RefundResult>;
  status(id: string, nowMs: number): Promise<StatusResult>;
  history(id: string): Promise<HistoryEntry[]>;
  /**
   * Manual mid-period reset, recorded as one event per feature that had usage
   * and one audit entry. With `operation`, a subject already reset by that
   * operation in this period is skipped, so a killed bulk reset resumes.
   */
  resetSubject(id: string, nowMs: number, opts?: ResetOptions): Promise<ResetSubjectResult>;
  /** A subject's usage events (consumes, refunds, resets), newest first, keyset paged. */
  subjectEvents(id: string, opts?: EventListOptions): Promise<Page<UsageEventView>>;
}

export interface ResetOptions {
  readonly dryRun?: boolean;
  readonly reason?: string;
  /** A bulk reset's id: a subject it already reset in this period is skipped. */
  readonly operation?: string;
  readonly actor?: Actor;
}

/** The service: API keys, sessions, the audit log. */
export interface StoreService {
  /** Stores a key's hash with its audit entry, in one step. */
  createApiKey(key: StoredApiKey, actor: Actor): Promise<ApiKeyInfo>;
  /** Every key, newest first; never the hash. */
  listApiKeys(): Promise<ApiKeyInfo[]>;
  /** The key whose sha256 hash (hex) this is, revoked or not; null if none. */
  apiKeyByHash(hash: string): Promise<(ApiKeyInfo & { readonly hash: string }) | null>;
  /** Revokes by id or by prefix; NOT_FOUND if neither matches. Revoking twice keeps the first time. */
  revokeApiKey(idOrPrefix: string, nowMs: number, actor: Actor): Promise<ApiKeyInfo>;
  createSession(session: StoredSession): Promise<void>;
  /** null when unknown, expired, or its key is revoked. */
  lookupSession(
    hash: string,
    nowMs: number,
  ): Promise<{ key: ApiKeyInfo; expiresMs: number } | null>;
  deleteSession(hash: string): Promise<void>;
  /** Newest first, keyset paged. */
  listAudit(opts?: AuditListOptions): Promise<Page<AuditEntry>>;
}

/** The reset job's lease. */
export interface StoreLeases {
  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<Lease | null>;
  renewLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean>;
  /** Who holds a lease now, if anyone (expired or not), and whether it is alive where the store can tell. */
  currentLease(name: string): Promise<Lease | null>;
  /**
   * Takes a lease from `from` only if it still holds it; for taking over from
   * a holder known to be dead. A store with leaseLiveness 'session' also
   * refuses while the holder's session exists, in the same statement.
   */
  takeOverLease(
    name: string,
    from: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
  ): Promise<Lease | null>;
  releaseLease(name: string, holder: string): Promise<void>;
}

/** The reset job's run ledger, one row per period key. */
export interface StoreLedger {
  getRun(key: string): Promise<RunRecord | null>;
  listRuns(limit?: number): Promise<RunRecord[]>;
  /** Ledger rows with a status in UNFINISHED_RUN_STATUSES (shared/ledger-rules.ts), by key. */
  unfinishedRuns(): Promise<RunRecord[]>;
  /** Creates the ledger row for a key, or returns the existing one (unique per key). */
  beginRun(
    key: string,
    holder: string,
    nowMs: number,
    period: { startMs: number; endMs: number },
  ): Promise<RunRecord>;
  /** With `checkpoint`, the row's checkpoint is replaced too (a sharded close writes the merged shard totals). */
  finishRun(
    key: string,
    status: 'closed' | 'partial' | 'failed',
    nowMs: number,
    error?: string,
    checkpoint?: RunCheckpoint,
  ): Promise<RunRecord>;
}

/** Closing ended periods: what is open, the batches, the dry-run preview and retention. */
export interface StoreCloser {
  /** Periods with at least one subject whose period ended by nowMs and is not closed, oldest first. */
  pendingPeriods(nowMs: number): Promise<PendingPeriod[]>;
  /**
   * Subjects that still have this key open, whether or not it has ended. A
   * store that reads the pending periods in the same scan returns them too
   * (`pending`, as pendingPeriods would), saving the job that call.
   */
  openCount(key: string, nowMs: number): Promise<OpenCount>;
  /** Closes one batch; the write and the checkpoint commit together. */
  closeBatch(req: CloseBatchRequest): Promise<CloseBatchResult>;
  /**
   * Read-only: for one batch of subjects with ended open periods, every
   * period a real run would close (all of them, oldest first), so a dry run
   * can report catch-up exactly without writing.
   */
  previewBatch(
    nowMs: number,
    cursor: string | null,
    batchSize: number,
  ): Promise<PreviewBatchResult>;
  /**
   * Deletes closed history whose period ended before olderThanMs. nowMs, the
   * caller's clock, stamps the pruned-consume totals kept in the job metrics
   * (default: the wall clock, for callers that do not pass it yet).
   */
  prune(olderThanMs: number, nowMs?: number): Promise<{ periods: number; events: number }>;
}

/** Backup and restore. */
export interface StoreBackup {
  exportRecords(): AsyncIterable<BackupRecord>;
  /** Loads records that were validated whole; the target must be empty; all or nothing. */
  importRecords(records: readonly BackupRecord[]): Promise<{ records: number }>;
}

/** Integrity checks, notifications, reports and metrics (every engine; docs/monitoring.md). */
export interface StoreMonitoring {
  verify(nowMs: number): Promise<IntegrityViolation[]>;
  /** Lists subjects at or over their limit in their current period. */
  subjectsAtLimit(nowMs: number, limit?: number): Promise<Subject[]>;
  /** Records a threshold notice; true only for the first claim of that subject, feature, period and threshold. */
  claimThresholdNotice(notice: ThresholdNotice, nowMs: number): Promise<boolean>;
  /** Sets gauges and adds to counters of the reset job (durable, so `quotaclock metrics` sees every process's runs). */
  recordJobMetrics(samples: readonly JobMetricSample[], nowMs: number): Promise<void>;
  jobMetrics(): Promise<JobMetric[]>;
  /** Consume requests since the store was created, including those whose events retention has pruned. */
  consumeTotals(): Promise<ConsumeTotals>;
  /** Net units used (consumes minus refunds) and denied requests, per feature, in buckets of bucketMs from fromMs. */
  usageBuckets(fromMs: number, toMs: number, bucketMs: number): Promise<UsageBucket[]>;
  /** Every subject's usage in the period with this key, closed or open, subjects with no usage included. */
  periodUsage(key: string, endMs: number): AsyncIterable<SubjectUsage>;
  /** Net usage per subject from events in [fromMs, toMs); only subjects with activity. */
  windowUsage(fromMs: number, toMs: number): AsyncIterable<SubjectUsage>;
}

export interface StoredApiKey {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly prefix: string;
  /** sha256 of the key, hex. */
  readonly hash: string;
  readonly createdMs: number;
}

export interface StoredSession {
  /** sha256 of the token, hex. */
  readonly hash: string;
  readonly keyId: string;
  readonly createdMs: number;
  readonly expiresMs: number;
}

export interface ThresholdNotice {
  readonly subject: string;
  readonly feature: string;
  readonly periodStartMs: number;
  readonly periodEndMs: number;
  /** Percent of the limit. */
  readonly threshold: number;
}

export interface JobMetricSample {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
  /** set: a gauge; add: a counter. */
  readonly mode: 'set' | 'add';
}

export interface JobMetric {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly updatedMs: number;
}

export interface ConsumeTotals {
  readonly granted: number;
  readonly denied: number;
  readonly unitsGranted: number;
}

export interface UsageBucket {
  readonly startMs: number;
  readonly feature: string;
  readonly used: number;
  readonly denied: number;
}

export interface SubjectUsage {
  readonly subject: string;
  readonly plan: string;
  /** The limits in force for that period: frozen at close for closed periods, current otherwise. */
  readonly limits: Readonly<Record<string, Limit>>;
  readonly used: Readonly<Record<string, number>>;
}

export type { Limits };
