import { BadInputError, QuotaClockError } from '../core/errors.js';
import { mergeTotals, type CloseTotals } from '../core/close-summary.js';
import { toIso } from '../core/period.js';
import type { QuotaClock } from '../quotaclock.js';
import type { PendingPeriod, QuotaStore, RunCheckpoint } from '../store/quota-store.js';
import type { Logger } from '../log/logger.js';
import { acquireLease, newHolderId } from './lease.js';
import { closePass, failRun } from './close-pass.js';
import { totalsOf, type ClosedPeriodReport, type ResetReport } from './reset-report.js';
import type { ResetOptions } from './reset.js';
import { pendingWork, shardLedgerKey, unfinishedPeriodsFor } from '../store/shared/ledger-rules.js';

export { shardLedgerKey };

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `i/n` (0 ≤ i < n ≤ 1024); anything else is refused naming --shard. */
export function parseShard(value: string): Shard {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(value.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 1024 || index >= count) {
    throw new BadInputError(
      `--shard: expected i/n with 0 ≤ i < n ≤ 1024 (for example 0/4 … 3/4), got "${value}"`,
      '--shard',
    );
  }
  return { index, count };
}

/** Refuses --shard where it cannot work, before anything is written. */
export function checkShardAllowed(store: QuotaStore, opts: ResetOptions): void {
  if (!opts.shard) return;
  if (!store.capabilities.shardedClose) {
    throw new BadInputError(
      `--shard: the ${store.engine} store cannot split a close between workers (capabilities.shardedClose is false); run reset without --shard`,
      '--shard',
    );
  }
  if (opts.dryRun) {
    throw new BadInputError(
      '--shard cannot be combined with --dry-run: a dry run previews the whole close; run it without --shard',
      '--shard',
    );
  }
}

const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

/**
 * One of n workers closing the ended periods in parallel. Each worker holds
 * its own lease (`reset:shard:i/n`) and keeps its own checkpoint in the
 * ledger row `<period>#shard-i-of-n`. Correctness still rests on the
 * conditional mark update: a subject is closed once whoever gets to it. The
 * period's own row is finished by whichever worker, after its last batch,
 * finds no subject with that period ended and open; that step runs under the
 * `reset:finalize` lease and skips a row already closed, so it happens once,
 * with the totals summed over the shard rows.
 */
export async function runShardedReset(
  qc: QuotaClock,
  opts: ResetOptions & { shard: Shard },
): Promise<ResetReport> {
  const startedMs = Date.now();
  const nowMs = opts.now ?? qc.now();
  const log = opts.logger ?? silent;
  const store = await qc.store();
  checkShardAllowed(store, opts);
  const shard = opts.shard;
  const holder = newHolderId();
  const ttlMs = qc.config.reset.leaseSeconds * 1000;
  const finish = (
    partial: Omit<ResetReport, 'startedAt' | 'finishedAt' | 'durationMs' | 'holder' | 'dryRun'>,
  ): ResetReport => {
    const finishedMs = Date.now();
    return {
      dryRun: false,
      ...partial,
      startedAt: toIso(startedMs),
      finishedAt: toIso(finishedMs),
      durationMs: finishedMs - startedMs,
      holder,
    };
  };
  const { checkNotAhead } = await import('./reset.js');
  await checkNotAhead(qc, store, nowMs, opts);
  const leaseName = `reset:shard:${shard.index}/${shard.count}`;
  const lease = await acquireLease(store, {
    name: leaseName,
    holder,
    ttlMs,
    waitMs: qc.config.reset.waitForLeaseSeconds * 1000,
  });
  if (!lease) {
    const current = await store.currentLease(leaseName);
    log.warn(
      { lease: leaseName, holder: current?.holder },
      'another worker holds this shard; leaving the work to it',
    );
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
      shard: `${shard.index}/${shard.count}`,
      now: toIso(nowMs),
      leaseWaitMs: lease.waitedMs,
      ...(lease.takenOverFrom ? { takenOverFrom: lease.takenOverFrom } : {}),
    },
    'sharded reset started',
  );
  const periods: ClosedPeriodReport[] = [];
  let currentLedgerKey: string | null = null;
  let pruned: ResetReport['pruned'] = null;
  try {
    const passes = new Map<string, number>();
    const done = new Set<string>();
    // This shard's rows and any period row a killed worker left unfinished: pending work too.
    const unfinished = unfinishedPeriodsFor(await store.unfinishedRuns(), shard);
    // The pending periods, when the last openCount read them in its scan.
    let known: PendingPeriod[] | undefined;
    for (;;) {
      const pending = pendingWork(known ?? (await store.pendingPeriods(nowMs)), unfinished).filter(
        (p) => (!opts.forcePeriod || p.key === opts.forcePeriod) && !done.has(p.key),
      );
      const next = pending[0];
      if (!next) break;
      const pass = (passes.get(next.key) ?? 0) + 1;
      passes.set(next.key, pass);
      if (pass > 5) {
        throw new QuotaClockError(
          'RESET_FAILED',
          `period ${next.key} still has open subjects in shard ${shard.index}/${shard.count} after ${pass - 1} passes`,
        );
      }
      const ledgerKey = shardLedgerKey(next.key, shard);
      currentLedgerKey = ledgerKey;
      const run = await store.beginRun(ledgerKey, holder, nowMs, next);
      log.info(
        { period: next.key, ledgerKey, resumeFrom: run.checkpoint.cursor, attempt: run.attempts },
        'closing shard of period',
      );
      // Nothing open in this shard's view: the run only has to be finished (and the period marked).
      const { closed, summary } = await (next.subjects === 0
        ? { closed: 0, summary: {} }
        : closePass(store, {
            key: next.key,
            nowMs,
            cursor: run.checkpoint.cursor,
            batchSize: qc.config.reset.batchSize,
            total: next.subjects,
            shard,
            ledgerKey,
            lease,
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
            ...(opts.afterBatch ? { afterBatch: opts.afterBatch } : {}),
          }));
      const open = await store.openCount(next.key, nowMs);
      known = open.pending;
      // This shard has nothing more for the key when a pass closed nothing, or no one has it open.
      if (closed === 0 || open.ended === 0) done.add(next.key);
      // The period's own row is marked before this shard's row is finished: a kill in
      // between leaves this row unfinished, so the rerun comes back and marks the period.
      const final =
        open.ended === 0
          ? await finalizePeriod(
              qc,
              store,
              next.key,
              shard,
              nowMs,
              open.notYetEnded > 0 ? 'partial' : 'closed',
              ttlMs,
              log,
            )
          : null;
      await store.finishRun(ledgerKey, open.notYetEnded > 0 ? 'partial' : 'closed', nowMs);
      currentLedgerKey = null;
      unfinished.delete(next.key);
      if (final) pruned = pruned ?? (await pruneOnce(qc, store, nowMs));
      const existing = periods.find((p) => p.key === next.key);
      const merged = existing ? mergeTotals(structuredClone(existing.summary), summary) : summary;
      const entry: ClosedPeriodReport = {
        key: next.key,
        start: toIso(next.startMs),
        end: toIso(next.endMs),
        // 'shard_done': this worker's part is closed; the period row is marked by the last worker.
        status: final ?? existing?.status ?? 'shard_done',
        subjects: (existing?.subjects ?? 0) + closed,
        ...totalsOf(merged),
        summary: merged,
      };
      if (existing) periods[periods.indexOf(existing)] = entry;
      else periods.push(entry);
    }
    log.info(
      { shard: `${shard.index}/${shard.count}`, periods: periods.length },
      'sharded reset finished',
    );
    return finish({ outcome: 'ok', periods, alreadyClosed: [], pruned });
  } catch (e) {
    throw await failRun(store, currentLedgerKey, nowMs, e, log, {
      what: 'sharded reset',
      ledgerKey: currentLedgerKey,
    });
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/** Marks the period's own ledger row, once, with the totals of all n shard rows; null if another worker already did. */
async function finalizePeriod(
  qc: QuotaClock,
  store: QuotaStore,
  key: string,
  shard: Shard,
  nowMs: number,
  status: 'closed' | 'partial',
  ttlMs: number,
  log: Logger,
): Promise<'closed' | 'partial' | null> {
  const holder = newHolderId();
  const lease = await acquireLease(store, {
    name: 'reset:finalize',
    holder,
    ttlMs,
    waitMs: Math.max(30_000, qc.config.reset.waitForLeaseSeconds * 1000),
  });
  if (!lease)
    throw new QuotaClockError(
      'RESET_FAILED',
      `could not take the reset:finalize lease to mark ${key}`,
    );
  try {
    const own = await store.getRun(key);
    if (own?.status === 'closed') return null;
    const open = await store.openCount(key, nowMs);
    if (open.ended > 0) return null; // someone reopened work; the worker that closes it finalizes
    const merged: { subjects: number; summary: CloseTotals; start: number; end: number } = {
      subjects: 0,
      summary: {},
      start: Infinity,
      end: -Infinity,
    };
    for (let i = 0; i < shard.count; i += 1) {
      const r = await store.getRun(shardLedgerKey(key, { index: i, count: shard.count }));
      if (!r) continue;
      merged.subjects += r.checkpoint.subjects;
      mergeTotals(merged.summary, r.checkpoint.summary);
      if (r.periodStart) merged.start = Math.min(merged.start, Date.parse(r.periodStart));
      if (r.periodEnd) merged.end = Math.max(merged.end, Date.parse(r.periodEnd));
    }
    const period = Number.isFinite(merged.start)
      ? { startMs: merged.start, endMs: merged.end }
      : { startMs: nowMs, endMs: nowMs };
    await store.beginRun(key, holder, nowMs, period);
    const checkpoint: RunCheckpoint = {
      cursor: null,
      subjects: merged.subjects,
      summary: merged.summary,
    };
    await store.finishRun(key, status, nowMs, undefined, checkpoint);
    log.info(
      { period: key, status, subjects: merged.subjects, ...totalsOf(merged.summary) },
      'period closed (all shards)',
    );
    return status;
  } finally {
    await lease.release().catch(() => undefined);
  }
}

async function pruneOnce(
  qc: QuotaClock,
  store: QuotaStore,
  nowMs: number,
): Promise<ResetReport['pruned']> {
  const { retentionCutoff } = await import('./reset.js');
  const cutoff = retentionCutoff(qc, nowMs);
  return { ...(await store.prune(cutoff)), olderThan: toIso(cutoff) };
}
