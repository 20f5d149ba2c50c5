import type { Logger } from '../../log/logger.js';
import type { Shard } from './shard.js';

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
