import { BadInputError, QuotaClockError } from '../core/errors.js';
import { refuseFutureClose } from '../core/wall-clock-guard.js';
import { mergeTotals, type CloseTotals } from '../core/close-summary.js';
import { PeriodSchedule, toIso, type Period } from '../core/period.js';
import type { QuotaClock } from '../quotaclock.js';
import type { PendingPeriod, QuotaStore, RunRecord } from '../store/quota-store.js';
import {
  finishedRunTotals,
  pendingWork,
  unfinishedPeriodsFor,
} from '../store/shared/ledger-rules.js';
import type { Logger } from '../log/logger.js';
import { acquireLease, newHolderId, RESET_LEASE } from './lease.js';
import { closePass, failRun, ResetInterruptedError } from './close-pass.js';
import { totalsOf, type ClosedPeriodReport, type ResetReport } from './reset-report.js';
import { checkShardAllowed, runShardedReset, type Shard } from './reset-shard.js';

export interface ResetProgress {
  readonly key: string;
  readonly done: number;
  readonly total: number;
}

export interface ResetOptions {
  readonly dryRun?: boolean;
  /** Only this period key (and it is re-checked even if the ledger says closed). */
  readonly forcePeriod?: string;
  /** Business time; defaults to the service clock. */
  readonly now?: number;
  readonly logger?: Logger;
  readonly onProgress?: (p: ResetProgress) => void;
  /** Test hook: called after each committed batch. */
  readonly afterBatch?: (p: ResetProgress) => void | Promise<void>;
  /**
   * Stop after the batch in flight commits (the daemon's SIGTERM): the run
   * throws ResetInterruptedError and the next run resumes from the checkpoint.
   */
  readonly signal?: AbortSignal;
  /**
   * Close as worker i of n (`--shard i/n`); needs a store with
   * capabilities.shardedClose, and is refused with dryRun.
   */
  readonly shard?: Shard;
  /**
   * Close periods that end after the wall clock (a `now` ahead of it);
   * without it such a run is refused before anything is written.
   */
  readonly force?: boolean;
  /** The wall clock the refusal compares with; tests only. */
  readonly wallClock?: () => number;
}

export { ResetInterruptedError };

const KEY_FORMAT: Record<string, RegExp> = {
  day: /^\d{4}-\d{2}-\d{2}$/,
  week: /^\d{4}-W\d{2}$/,
  month: /^\d{4}-\d{2}$/,
  year: /^\d{4}$/,
};

/** The most recently ended period in the rule's own zone: what "this month's reset" is about. */
function lastEndedPeriod(qc: QuotaClock, nowMs: number): Period {
  const rule = { ...qc.policy.rule, anchor: 'calendar' as const };
  const schedule = new PeriodSchedule(rule, { timeZone: null, anchorMs: nowMs });
  return schedule.before(schedule.at(nowMs));
}

export function retentionCutoff(qc: QuotaClock, nowMs: number): number {
  const rule = { ...qc.policy.rule, anchor: 'calendar' as const };
  const schedule = new PeriodSchedule(rule, { timeZone: null, anchorMs: nowMs });
  let p = schedule.at(nowMs);
  for (let i = 0; i < qc.policy.retentionPeriods; i += 1) p = schedule.before(p);
  // Subjects in zones behind the rule's end their periods up to 12 h later (UTC−12);
  // 14 h of slack keeps exactly `retention` periods for every zone, even daily ones.
  return p.startMs + 14 * 3_600_000;
}

const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

/**
 * Closes every period that has ended, oldest first, exactly once per subject.
 * Correctness rests on the store: each subject's mark moves with a conditional
 * update, and each batch commits with its checkpoint. The lease only keeps two
 * schedulers from doing the same work twice over.
 */
export async function runReset(qc: QuotaClock, opts: ResetOptions = {}): Promise<ResetReport> {
  const startedMs = Date.now();
  const nowMs = opts.now ?? qc.now();
  const log = opts.logger ?? silent;
  const store = await qc.store();
  if (opts.shard) {
    checkShardAllowed(store, opts);
    return runShardedReset(qc, { ...opts, shard: opts.shard });
  }
  const holder = newHolderId();
  if (opts.forcePeriod !== undefined && !KEY_FORMAT[qc.policy.rule.every]!.test(opts.forcePeriod)) {
    throw new BadInputError(
      `--force-period: "${opts.forcePeriod}" is not a ${qc.policy.rule.every} period key (for example ${lastEndedPeriod(qc, nowMs).key})`,
      '--force-period',
    );
  }
  const finish = (
    partial: Omit<ResetReport, 'startedAt' | 'finishedAt' | 'durationMs' | 'holder' | 'dryRun'>,
  ): ResetReport => {
    const finishedMs = Date.now();
    return {
      dryRun: opts.dryRun ?? false,
      ...partial,
      startedAt: toIso(startedMs),
      finishedAt: toIso(finishedMs),
      durationMs: finishedMs - startedMs,
      holder,
    };
  };

  if (opts.dryRun) {
    const periods = withUnfinished(
      await previewAll(qc, store, nowMs, opts.forcePeriod),
      unfinishedPeriodsFor(await store.unfinishedRuns()),
      opts.forcePeriod,
    );
    const alreadyClosed = await alreadyClosedKeys(qc, store, nowMs, periods, opts.forcePeriod);
    log.info(
      { dryRun: true, periods: periods.map((p) => ({ key: p.key, subjects: p.subjects })) },
      'reset dry run',
    );
    return finish({ outcome: 'ok', periods, alreadyClosed, pruned: null });
  }

  await checkNotAhead(qc, store, nowMs, opts);
  const ttlMs = qc.config.reset.leaseSeconds * 1000;
  const lease = await acquireLease(store, {
    name: RESET_LEASE,
    holder,
    ttlMs,
    waitMs: qc.config.reset.waitForLeaseSeconds * 1000,
  });
  if (!lease) {
    const current = (await store.listRuns(1))[0];
    log.warn({ holder: current?.holder }, 'another reset holds the lease; leaving the work to it');
    return finish({
      outcome: 'lease_held',
      periods: [],
      alreadyClosed: [],
      pruned: null,
      leaseHolder: current?.holder ?? 'unknown',
    });
  }
  log.info(
    {
      holder,
      now: toIso(nowMs),
      leaseWaitMs: lease.waitedMs,
      ...(lease.takenOverFrom ? { takenOverFrom: lease.takenOverFrom } : {}),
    },
    'reset started',
  );
  const periods: ClosedPeriodReport[] = [];
  let currentKey: string | null = null;
  try {
    const passes = new Map<string, number>();
    const passTotals = new Map<string, { subjects: number; summary: CloseTotals }>();
    // Runs a killed or failed reset left unfinished: pending work even with no subject open.
    // Read once under the lease: no other reset can leave one while this one holds it.
    const unfinished = unfinishedPeriodsFor(await store.unfinishedRuns());
    const resumed = new Set(unfinished.keys());
    // The pending periods, when the last openCount read them in its scan.
    let known: PendingPeriod[] | undefined;
    for (;;) {
      const pending = pendingWork(known ?? (await store.pendingPeriods(nowMs)), unfinished).filter(
        (p) => !opts.forcePeriod || p.key === opts.forcePeriod,
      );
      const next = pending[0];
      if (!next) break;
      currentKey = next.key;
      const pass = (passes.get(next.key) ?? 0) + 1;
      passes.set(next.key, pass);
      if (pass > 5) {
        throw new QuotaClockError(
          'RESET_FAILED',
          `period ${next.key} still has open subjects after ${pass - 1} passes`,
        );
      }
      const run = await store.beginRun(next.key, holder, nowMs, next);
      log.info(
        {
          period: next.key,
          subjects: next.subjects,
          resumeFrom: run.checkpoint.cursor,
          attempt: run.attempts,
        },
        'closing period',
      );
      // A run with nothing open (killed after its last batch) only has to be finished;
      // openCount below re-checks, and sends it round again if a subject is open after all.
      const { closed: done, summary } = await (next.subjects === 0
        ? { closed: 0, summary: {} }
        : closePass(store, {
            key: next.key,
            nowMs,
            cursor: run.checkpoint.cursor,
            batchSize: qc.config.reset.batchSize,
            total: next.subjects,
            lease,
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
            ...(opts.afterBatch ? { afterBatch: opts.afterBatch } : {}),
          }));
      // Every pass counts, including one that leaves subjects for another.
      const sofar = passTotals.get(next.key) ?? { subjects: 0, summary: {} };
      sofar.subjects += done;
      mergeTotals(sofar.summary, summary);
      passTotals.set(next.key, sofar);
      const open = await store.openCount(next.key, nowMs);
      known = open.pending;
      // Subjects left open (created behind the cursor, or in a zone the store met late): another pass.
      if (open.ended > 0) continue;
      passTotals.delete(next.key);
      const status = open.notYetEnded > 0 ? 'partial' : 'closed';
      const record = await store.finishRun(next.key, status, nowMs);
      unfinished.delete(next.key);
      const reported = finishedRunTotals(resumed.delete(next.key), record.checkpoint, sofar);
      const existing = periods.find((p) => p.key === next.key);
      const merged = existing
        ? mergeTotals(structuredClone(existing.summary), reported.summary)
        : reported.summary;
      const totals = totalsOf(merged);
      const entry: ClosedPeriodReport = {
        key: next.key,
        start: record.periodStart ?? toIso(next.startMs),
        end: record.periodEnd ?? toIso(next.endMs),
        status,
        subjects: (existing?.subjects ?? 0) + reported.subjects,
        used: totals.used,
        atLimit: totals.atLimit,
        summary: merged,
      };
      if (existing) periods[periods.indexOf(existing)] = entry;
      else periods.push(entry);
      log.info(
        {
          period: next.key,
          status,
          subjects: entry.subjects,
          used: entry.used,
          atLimit: entry.atLimit,
        },
        'period closed',
      );
      currentKey = null;
    }
    const alreadyClosed = await alreadyClosedKeys(qc, store, nowMs, periods, opts.forcePeriod);
    const cutoff = retentionCutoff(qc, nowMs);
    const pruned = { ...(await store.prune(cutoff)), olderThan: toIso(cutoff) };
    log.info({ periods: periods.length, alreadyClosed, pruned }, 'reset finished');
    return finish({ outcome: 'ok', periods, alreadyClosed, pruned });
  } catch (e) {
    throw await failRun(store, currentKey, nowMs, e, log, { what: 'reset', period: currentKey });
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/**
 * Refuses, before the lease and before any write, to close a period that has
 * not ended on the wall clock. Only a `now` ahead of the wall clock can do
 * that, so a run at the real time costs no extra read.
 */
export async function checkNotAhead(
  qc: QuotaClock,
  store: QuotaStore,
  nowMs: number,
  opts: Pick<ResetOptions, 'force' | 'forcePeriod' | 'wallClock'>,
): Promise<void> {
  const wallMs = (opts.wallClock ?? Date.now)();
  if (opts.force || nowMs <= wallMs) return;
  // Every period the run would close, catch-up included (pendingPeriods has only each subject's oldest).
  const periods = await previewAll(qc, store, nowMs, opts.forcePeriod);
  refuseFutureClose(
    periods.map((p) => ({ key: p.key, endMs: Date.parse(p.end) })),
    nowMs,
    wallMs,
    false,
  );
}

async function previewAll(
  qc: QuotaClock,
  store: QuotaStore,
  nowMs: number,
  only?: string,
): Promise<ClosedPeriodReport[]> {
  const byKey: Record<
    string,
    { subjects: number; startMs: number; endMs: number; summary: CloseTotals }
  > = {};
  let cursor: string | null = null;
  do {
    const batch = await store.previewBatch(nowMs, cursor, qc.config.reset.batchSize);
    for (const [key, v] of Object.entries(batch.byKey)) {
      const e = (byKey[key] ??= { subjects: 0, startMs: v.startMs, endMs: v.endMs, summary: {} });
      e.subjects += v.subjects;
      e.startMs = Math.min(e.startMs, v.startMs);
      e.endMs = Math.max(e.endMs, v.endMs);
      mergeTotals(e.summary, v.summary);
    }
    cursor = batch.cursor;
  } while (cursor !== null);
  return Object.entries(byKey)
    .filter(([key]) => !only || key === only)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, v]) => ({
      key,
      start: toIso(v.startMs),
      end: toIso(v.endMs),
      status: 'dry_run',
      subjects: v.subjects,
      ...totalsOf(v.summary),
      summary: v.summary,
    }));
}

/**
 * A dry run's view of unfinished runs: a real run finishes each and reports
 * the ledger's totals (see finishedRunTotals), so the preview adds what the
 * checkpoints already hold to what is still open, and lists a run with
 * nothing open too.
 */
function withUnfinished(
  preview: ClosedPeriodReport[],
  unfinished: ReadonlyMap<string, RunRecord>,
  only?: string,
): ClosedPeriodReport[] {
  const out = [...preview];
  for (const [key, run] of unfinished) {
    if (only && key !== only) continue;
    const i = out.findIndex((p) => p.key === key);
    const open = out[i];
    const summary = mergeTotals(structuredClone(run.checkpoint.summary), open?.summary ?? {});
    const entry: ClosedPeriodReport = {
      key,
      // As beginRun widens the ledger's row: the earliest start and latest end seen.
      start: [open?.start, run.periodStart].filter((v): v is string => !!v).sort()[0] ?? toIso(0),
      end:
        [open?.end, run.periodEnd]
          .filter((v): v is string => !!v)
          .sort()
          .pop() ?? toIso(0),
      status: 'dry_run',
      subjects: run.checkpoint.subjects + (open?.subjects ?? 0),
      ...totalsOf(summary),
      summary,
    };
    if (open) out[i] = entry;
    else out.push(entry);
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function alreadyClosedKeys(
  qc: QuotaClock,
  store: QuotaStore,
  nowMs: number,
  worked: readonly ClosedPeriodReport[],
  only?: string,
): Promise<string[]> {
  const key = only ?? lastEndedPeriod(qc, nowMs).key;
  if (worked.some((p) => p.key === key)) return [];
  const run = await store.getRun(key);
  return run && (run.status === 'closed' || run.status === 'partial') ? [key] : [];
}
