import type { CloseTotals } from '../core/close-summary.js';
import type { DeliveryResult } from '../notify/types.js';

export interface ClosedPeriodReport {
  readonly key: string;
  /** Earliest start and latest end over the subjects closed (zones and anchors differ). */
  readonly start: string;
  readonly end: string;
  /** closed | partial (some subjects reach this period's end later) | dry_run */
  readonly status: string;
  /** Subjects whose period this run closed (or would close). */
  readonly subjects: number;
  /** Units used in those periods. */
  readonly used: number;
  readonly atLimit: number;
  readonly summary: CloseTotals;
}

export interface ResetReport {
  readonly dryRun: boolean;
  /** ok: work done or nothing due; lease_held: another live run holds the lease. */
  readonly outcome: 'ok' | 'lease_held';
  readonly periods: ClosedPeriodReport[];
  /** Period keys that were already closed before this run (a rerun says so and exits 0). */
  readonly alreadyClosed: string[];
  readonly pruned: {
    readonly periods: number;
    readonly events: number;
    readonly olderThan: string;
  } | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly holder: string;
  readonly leaseHolder?: string;
  /** Heartbeat pings and notifications of a scheduled run; a failed one never fails the reset. */
  readonly notifications?: readonly DeliveryResult[];
}

export function totalsOf(summary: CloseTotals): { used: number; atLimit: number } {
  let used = 0;
  let atLimit = 0;
  for (const features of Object.values(summary)) {
    for (const t of Object.values(features)) {
      used += t.used;
      atLimit += t.atLimit;
    }
  }
  return { used, atLimit };
}

/** The human summary printed by `quotaclock reset` and used in notifications. */
/** planOrder: the configured order of the plans, which the summary lines follow (others after, by name). */
export function describeReset(r: ResetReport, planOrder: readonly string[] = []): string {
  const rank = (p: string) => (planOrder.includes(p) ? planOrder.indexOf(p) : planOrder.length);
  const lines: string[] = [];
  const verb = r.dryRun ? 'would close' : 'closed';
  if (r.outcome === 'lease_held') {
    lines.push(
      `another reset is running (lease held by ${r.leaseHolder ?? 'another process'}); nothing done here`,
    );
  }
  for (const p of r.periods) {
    const state =
      p.status === 'partial' ? ' (partial: some subjects reach the end of this period later)' : '';
    lines.push(
      `${r.dryRun ? '[dry run] ' : ''}${p.key}: ${verb} ${p.subjects} subject(s), ${p.used} unit(s) used, ${p.atLimit} at limit${state}`,
    );
    for (const [plan, features] of Object.entries(p.summary).sort(
      ([a], [b]) => rank(a) - rank(b) || a.localeCompare(b),
    )) {
      for (const [feature, t] of Object.entries(features)) {
        lines.push(
          `    ${plan.padEnd(12)} ${feature}: ${t.subjects} subjects, ${t.used} used, ${t.atLimit} at limit`,
        );
      }
    }
  }
  for (const key of r.alreadyClosed) lines.push(`${key}: already closed`);
  if (r.periods.length === 0 && r.alreadyClosed.length === 0 && r.outcome === 'ok') {
    lines.push('nothing to close: no period has ended since the last run');
  }
  if (r.pruned && (r.pruned.periods > 0 || r.pruned.events > 0)) {
    lines.push(
      `pruned ${r.pruned.periods} closed period(s) and ${r.pruned.events} event(s) older than ${r.pruned.olderThan}`,
    );
  }
  const sent = (r.notifications ?? []).filter((d) => d.ok).map((d) => d.target);
  if (sent.length) lines.push(`notified: ${[...new Set(sent)].join(', ')}`);
  for (const d of (r.notifications ?? []).filter((n) => !n.ok)) {
    lines.push(
      `notification to ${d.target} FAILED after ${d.attempts} attempt(s): ${d.error ?? 'unknown error'} (the reset itself did not fail)`,
    );
  }
  return lines.join('\n');
}
