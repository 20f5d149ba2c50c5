import { BadInputError } from './errors.js';
import { toIso } from './period.js';

/**
 * `--now` moves business time, but a period closed before it has really
 * ended keeps receiving usage at the real time, into a closed period. These
 * rules refuse that unless the operator says --force.
 */

/** Refuses to close any period that ends after the wall clock. */
export function refuseFutureClose(
  periods: readonly { key: string; endMs: number }[],
  nowMs: number,
  wallMs: number,
  force: boolean,
): void {
  if (force) return;
  const early = periods.filter((p) => p.endMs > wallMs);
  if (early.length === 0) return;
  const list = early.map((p) => `${p.key} (ends ${toIso(p.endMs)})`).join(', ');
  throw new BadInputError(
    `--now: ${toIso(nowMs)} would close ${list}, which end after the wall clock (${toIso(wallMs)}); ` +
      'usage recorded at the real time would then land in a closed period. ' +
      'Check --now (or QUOTACLOCK_NOW), or pass --force to close them anyway',
    '--now',
  );
}

/** Refuses a bulk manual reset at a business time after the wall clock. */
export function refuseFutureNow(nowMs: number, wallMs: number, force: boolean, what: string): void {
  if (force || nowMs <= wallMs) return;
  throw new BadInputError(
    `--now: ${toIso(nowMs)} is after the wall clock (${toIso(wallMs)}); ${what} would act on a ` +
      'period that has not come yet. Check --now (or QUOTACLOCK_NOW), or pass --force to do it anyway',
    '--now',
  );
}
