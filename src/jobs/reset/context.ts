import type { QuotaClockConfig } from '../../config/schema.js';
import type { QuotaPolicy } from '../../core/policy.js';
import type { Logger } from '../../log/logger.js';
import type { QuotaClock } from '../../quotaclock.js';
import type { QuotaStore } from '../../store/quota-store.js';

/**
 * What the reset needs from the service, and nothing more: the store, the
 * period and retention rules, the business clock (`--now`), a logger and the
 * batch and lease settings. Tests and other callers can build one without a
 * whole QuotaClock.
 */
export interface ResetContext {
  readonly store: QuotaStore;
  readonly policy: QuotaPolicy;
  /** Business time; `--now` fixes it. */
  readonly clock: () => number;
  readonly log: Logger;
  readonly settings: QuotaClockConfig['reset'];
}

const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

export async function resetContext(qc: QuotaClock, logger?: Logger): Promise<ResetContext> {
  return {
    store: await qc.store(),
    policy: qc.policy,
    clock: () => qc.now(),
    log: logger ?? silent,
    settings: qc.config.reset,
  };
}
