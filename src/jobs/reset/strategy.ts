import type { CloseTotals } from '../../core/close-summary.js';
import type { OpenCount, PendingPeriod, RunRecord } from '../../store/quota-store.js';
import type { ClosedPeriodReport, ResetReport } from '../reset-report.js';
import type { Shard } from './shard.js';

/** Fixed for one run: when it started (wall clock), its business time, its lease holder id. */
export interface RunStamp {
  readonly startedMs: number;
  readonly nowMs: number;
  readonly holder: string;
  readonly dryRun: boolean;
}

/** One pass over a period, as the loop saw it: what it closed, and what is still open after it. */
export interface PassResult {
  readonly next: PendingPeriod;
  readonly ledgerKey: string;
  readonly closed: number;
  readonly summary: CloseTotals;
  readonly open: OpenCount;
}

/** What a finished pass adds to the report's line for its period. */
export interface PeriodPart {
  readonly key: string;
  readonly start: string;
  readonly end: string;
  readonly subjects: number;
  readonly summary: CloseTotals;
  /** The period's status in the report, given the line earlier passes left (if any). */
  readonly status: (existing: ClosedPeriodReport | undefined) => string;
}

/**
 * How one kind of reset differs inside the shared loop (closePeriods): the
 * whole close under one lease, or worker i of n under its own. The loop owns
 * the lease, the pending list, the pass cap, beginRun and the batches; the
 * strategy owns which ledger row a pass writes and when a period is done.
 */
export interface CloseStrategy {
  /** Names the run in its failure line: `reset` or `sharded reset`. */
  readonly what: string;
  readonly leaseName: string;
  readonly shard?: Shard;
  readonly started: { readonly fields: Record<string, unknown>; readonly message: string };
  /** The unfinished ledger rows this run must finish, by period key. */
  unfinished(runs: readonly RunRecord[]): Map<string, RunRecord>;
  /** A period this run has nothing more to do for, though it may still be pending. */
  skips(periodKey: string): boolean;
  ledgerKey(periodKey: string): string;
  tooManyPasses(periodKey: string, passes: number): string;
  failFields(ledgerKey: string | null): Record<string, unknown>;
  /** Logs who holds the lease this run could not take, and returns that holder. */
  leaseHeldBy(): Promise<string | null | undefined>;
  logClosing(next: PendingPeriod, ledgerKey: string, run: RunRecord): void;
  /** Finishes the pass's ledger row, or returns null to go round again with it still running. */
  afterPass(pass: PassResult): Promise<PeriodPart | null>;
  /** After the row is finished and the report line merged. */
  periodFinished(entry: ClosedPeriodReport): Promise<void>;
  /** After the last period: what the report says was already closed, and the prune. */
  wrapUp(
    periods: readonly ClosedPeriodReport[],
  ): Promise<{ alreadyClosed: string[]; pruned: ResetReport['pruned'] }>;
}
