import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import type {
  IntegrityViolation,
  PendingPeriod,
  RunCheckpoint,
  RunRecord,
  RunStatus,
} from '../quota-store.js';

/**
 * Statuses of a ledger row whose run did not finish: `running` with no live
 * holder (the process was killed between two steps) or `failed`. Such a run
 * is pending work in its own right, even when no subject has its period
 * open any more (a kill after the last batch, before the run was finished).
 */
export const UNFINISHED_RUN_STATUSES: readonly RunStatus[] = ['running', 'failed'];

export function isUnfinishedRun(status: RunStatus): boolean {
  return UNFINISHED_RUN_STATUSES.includes(status);
}

/**
 * The checkpoint a run starts from when its ledger row exists: a killed or
 * failed run resumes where it stopped; a finished key that has work again
 * starts a fresh pass over it, keeping the totals it has counted.
 */
export function checkpointOnBegin(status: RunStatus, checkpoint: RunCheckpoint): RunCheckpoint {
  return isUnfinishedRun(status) ? checkpoint : { ...checkpoint, cursor: null };
}

/** What one committed batch (or part of one) adds to its run's checkpoint; without `cursor`, the cursor stays. */
export interface CheckpointStep {
  readonly cursor?: string | null;
  readonly closed: number;
  readonly summary: CloseTotals;
}

/**
 * The checkpoint with one step added: its subjects and totals summed, and
 * its cursor moved to the step's. Neither argument is changed.
 */
export function advanceCheckpoint(checkpoint: RunCheckpoint, step: CheckpointStep): RunCheckpoint {
  return {
    cursor: step.cursor === undefined ? checkpoint.cursor : step.cursor,
    subjects: checkpoint.subjects + step.closed,
    summary: mergeTotals(structuredClone(checkpoint.summary), step.summary),
  };
}

/** A sharded close keeps one ledger row per shard, `<period>#shard-i-of-n`, next to the period's own row. */
const SHARD_ROW = /^(.+)#shard-(\d+)-of-(\d+)$/;

export function shardLedgerKey(periodKey: string, s: { index: number; count: number }): string {
  return `${periodKey}#shard-${s.index}-of-${s.count}`;
}

/** The period key and shard of a ledger key; shard is null for a period's own row. */
export function parseLedgerKey(key: string): {
  period: string;
  shard: { index: number; count: number } | null;
} {
  const m = SHARD_ROW.exec(key);
  return m
    ? { period: m[1]!, shard: { index: Number(m[2]), count: Number(m[3]) } }
    : { period: key, shard: null };
}

/**
 * The unfinished runs one closer must finish, as period keys: an unsharded
 * closer finishes periods' own rows; worker i of n finishes its own shard
 * rows and any period row left unfinished (the worker that would have
 * marked it died), never another worker's shard.
 */
export function unfinishedPeriodsFor(
  runs: readonly RunRecord[],
  shard?: { index: number; count: number },
): Map<string, RunRecord> {
  const out = new Map<string, RunRecord>();
  for (const r of runs) {
    if (!isUnfinishedRun(r.status)) continue;
    const { period, shard: own } = parseLedgerKey(r.key);
    const mine =
      own === null ||
      (shard !== undefined && own.index === shard.index && own.count === shard.count);
    if (!mine) continue;
    if (!out.has(period)) out.set(period, r);
  }
  return out;
}

/**
 * Everything a reset has to do, oldest key first: the periods the store has
 * ended and open, plus each unfinished run whose key has no open subject left
 * (it gets 0 subjects: the run only has to be finished). Keys of one period
 * rule sort in time order (`2026-09` < `2026-10`, `2026-W09`, `2026-10-01`).
 */
export function pendingWork(
  open: readonly PendingPeriod[],
  unfinished: ReadonlyMap<string, RunRecord>,
): PendingPeriod[] {
  const out = [...open];
  for (const [key, run] of unfinished) {
    if (out.some((p) => p.key === key)) continue;
    const startMs = run.periodStart === null ? 0 : Date.parse(run.periodStart);
    const endMs = run.periodEnd === null ? startMs : Date.parse(run.periodEnd);
    out.push({ key, subjects: 0, startMs, endMs });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * What a finished run reports. A run that resumed an unfinished one reports
 * the ledger's totals, summed from every checkpoint its attempts committed,
 * so a kill (even after the last batch) never shrinks the summary; a fresh
 * run reports what its own passes closed.
 */
export function finishedRunTotals(
  resumed: boolean,
  ledger: RunCheckpoint,
  passes: { subjects: number; summary: CloseTotals },
): { subjects: number; summary: CloseTotals } {
  return resumed ? { subjects: ledger.subjects, summary: structuredClone(ledger.summary) } : passes;
}

/** Net usage now held by the closed periods of one key, per feature. */
export interface ClosedUsage {
  readonly key: string;
  readonly feature: string;
  readonly used: number;
}

/**
 * verify's `usage_after_close`: a finished run's summary counted the usage of
 * each period as it closed; if the closed periods of that key now hold more,
 * usage was recorded in them after they closed (a reset whose `--now` ran
 * ahead of the real clock, or a consume that arrived after the close). Only
 * growth is reported: a refund reverses a consume in its own period by
 * design, and retention prunes closed periods while the ledger keeps its row.
 */
export function usageAfterClose(
  runs: readonly RunRecord[],
  closed: readonly ClosedUsage[],
): IntegrityViolation[] {
  const recorded = new Map<string, number>();
  const finished = new Set<string>();
  for (const r of runs) {
    if (isUnfinishedRun(r.status) || parseLedgerKey(r.key).shard !== null) continue;
    finished.add(r.key);
    for (const features of Object.values(r.checkpoint.summary)) {
      for (const [f, t] of Object.entries(features)) {
        const id = `${r.key}\u0000${f}`;
        recorded.set(id, (recorded.get(id) ?? 0) + t.used);
      }
    }
  }
  const out: IntegrityViolation[] = [];
  const sorted = [...closed].sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.feature < b.feature ? -1 : 1,
  );
  for (const c of sorted) {
    if (!finished.has(c.key)) continue;
    const counted = recorded.get(`${c.key}\u0000${c.feature}`) ?? 0;
    if (c.used <= counted) continue;
    out.push({
      kind: 'usage_after_close',
      subject: null,
      message:
        `period ${c.key}: ${c.used - counted} ${c.feature} recorded after the period was closed ` +
        `(its close counted ${counted}, its closed periods now hold ${c.used}); ` +
        'a reset with --now ahead of the clock, or consumes that arrived after the close',
    });
  }
  return out;
}
