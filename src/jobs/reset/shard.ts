import { BadInputError } from '../../core/errors.js';
import type { QuotaStore } from '../../store/quota-store.js';

/** Worker `index` of `count` (`--shard i/n`). */
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
export function checkShardAllowed(
  store: QuotaStore,
  opts: { readonly shard?: Shard; readonly dryRun?: boolean },
): void {
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
