import { QuotaClockError } from '../../core/errors.js';

/**
 * finishRun (or another ledger write) found no ledger row for its key: the
 * run was never begun, or its row was removed under it. Every engine raises
 * this one error, code NOT_FOUND, where 'key'.
 */
export class RunNotFoundError extends QuotaClockError {
  constructor(key: string) {
    super('NOT_FOUND', `no run "${key}" in the ledger`, { where: 'key' });
  }
}
