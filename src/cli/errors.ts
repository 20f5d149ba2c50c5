import { asQuotaClockError } from '../core/errors.js';
import { redact, redactDeep } from '../log/redact.js';

/** The single mapping from anything thrown to a process exit code (see ERROR_CODES). */
export function exitCodeFor(e: unknown): number {
  return asQuotaClockError(e).exitCode;
}

export function reportError(e: unknown, json: boolean): void {
  const err = asQuotaClockError(e);
  process.stderr.write(`quotaclock: error: ${redact(err.message)}\n`);
  if (json)
    process.stdout.write(`${JSON.stringify(redactDeep({ error: err.toJSON() }), null, 2)}\n`);
}
