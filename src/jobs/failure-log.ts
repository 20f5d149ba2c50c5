import type { Logger } from '../log/logger.js';

/** Errors whose error line is already written, so a failure is logged exactly once. */
const logged = new WeakSet<object>();

export function markLogged(e: unknown): void {
  if (typeof e === 'object' && e !== null) logged.add(e);
}

/**
 * The one error line of a failed reset, with its cause, in every destination
 * of `log` (stderr and the log file): the failure email points operators at
 * the log, so `grep -i error` there must find it. A failure already logged
 * where it happened (a failing batch) is not logged twice.
 */
export function logResetFailure(
  log: Logger,
  e: unknown,
  fields: Record<string, unknown> = {},
): void {
  if (typeof e === 'object' && e !== null && logged.has(e)) return;
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  log.error(
    { ...fields, err: { ...(typeof code === 'string' ? { code } : {}), message } },
    `reset failed: ${message}`,
  );
  markLogged(e);
}
