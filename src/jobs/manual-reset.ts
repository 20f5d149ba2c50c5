import { createHash } from 'node:crypto';
import type { QuotaClock } from '../quotaclock.js';
import type { ResetSubjectResult } from '../core/types.js';
import { refuseFutureNow } from '../core/wall-clock-guard.js';

export interface BulkResetReport {
  readonly dryRun: boolean;
  readonly operation: string;
  readonly subjects: number;
  /** Subjects skipped because this operation already reset them (a resumed run). */
  readonly skipped: number;
  readonly cleared: Record<string, number>;
}

/**
 * `users reset --all`: one subject at a time, each in its own transaction
 * with its own audit entry. The operation id is derived from the plan filter
 * and the reason, so rerunning the same command after a kill resumes instead
 * of clearing usage that subjects built up since.
 */
export async function resetMany(
  qc: QuotaClock,
  opts: {
    plan?: string;
    reason?: string;
    dryRun?: boolean;
    now?: number;
    /** Go ahead with a `now` after the wall clock. */
    force?: boolean;
    wallClock?: () => number;
    onSubject?: (r: ResetSubjectResult) => void;
  },
): Promise<BulkResetReport> {
  if (opts.plan) qc.policy.catalog.assertPlan(opts.plan, '--plan');
  if (!opts.dryRun) {
    const wallMs = (opts.wallClock ?? Date.now)();
    refuseFutureNow(opts.now ?? qc.now(), wallMs, opts.force ?? false, 'a bulk reset');
  }
  const operation = `bulk-${createHash('sha256')
    .update(`${opts.plan ?? '*'}\n${opts.reason ?? ''}`)
    .digest('hex')
    .slice(0, 16)}`;
  const cleared: Record<string, number> = {};
  let subjects = 0;
  let skipped = 0;
  let after: string | null = null;
  do {
    const page = await qc.listSubjects({
      limit: 500,
      after,
      ...(opts.plan ? { plan: opts.plan } : {}),
    });
    for (const s of page.items) {
      const r = await qc.resetSubject(s.id, {
        ...(opts.now === undefined ? {} : { now: opts.now }),
        dryRun: opts.dryRun ?? false,
        operation,
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      if (r.skipped) skipped += 1;
      else subjects += 1;
      for (const [f, n] of Object.entries(r.cleared)) cleared[f] = (cleared[f] ?? 0) + n;
      opts.onSubject?.(r);
    }
    after = page.next;
  } while (after !== null);
  return { dryRun: opts.dryRun ?? false, operation, subjects, skipped, cleared };
}
