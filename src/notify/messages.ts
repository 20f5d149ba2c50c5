import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { QuotaClockConfig } from '../config/schema.js';
import type { ResetReport } from '../jobs/reset-report.js';
import type { VerifyReport } from '../jobs/verify.js';
import { logFileOf, type Logger } from '../log/logger.js';
import { redact } from '../log/redact.js';
import { formatDuration } from './render.js';
import type { EventField, NotifyEvent } from './types.js';

/** What every message says besides the event itself. */
export interface MessageContext {
  readonly host: string;
  /** Where the log is: a file path, or what the operator configured (journalctl …), or stderr. */
  readonly log: string;
  readonly trigger?: string;
  readonly nowMs?: number;
}

export function logLocation(config: QuotaClockConfig, logger?: Logger): string {
  const file = logFileOf(logger) ?? (config.log.file ? resolve(config.log.file) : null);
  if (file) return `${file} (live file: ${join(dirname(file), 'current.log')})`;
  return (
    config.notify.logLocation ??
    'stderr of the job (no log file configured: set log.file or --log-file)'
  );
}

export function messageContext(
  config: QuotaClockConfig,
  opts: { logger?: Logger; trigger?: string } = {},
): MessageContext {
  return {
    host: hostname(),
    log: logLocation(config, opts.logger),
    ...(opts.trigger ? { trigger: opts.trigger } : {}),
  };
}

const n = (x: number) => x.toLocaleString('en-US');
const at = (ctx: MessageContext) => new Date(ctx.nowMs ?? Date.now()).toISOString();

function common(ctx: MessageContext, durationMs?: number): EventField[] {
  return [
    ...(durationMs === undefined
      ? []
      : [{ label: 'Duration', value: formatDuration(durationMs), short: true }]),
    { label: 'Host', value: ctx.host, short: true },
    ...(ctx.trigger ? [{ label: 'Trigger', value: ctx.trigger, short: true }] : []),
    { label: 'Log', value: ctx.log },
  ];
}

/**
 * The event for a finished run, or null when there is nothing to say (a dry
 * run, or another process held the lease and reports for itself).
 */
export function resetEvent(r: ResetReport, ctx: MessageContext): NotifyEvent | null {
  if (r.dryRun || r.outcome === 'lease_held') return null;
  const subjects = r.periods.reduce((s, p) => s + p.subjects, 0);
  const used = r.periods.reduce((s, p) => s + p.used, 0);
  const atLimit = r.periods.reduce((s, p) => s + p.atLimit, 0);
  const keys = r.periods.map((p) => p.key);
  const partial = r.periods.filter((p) => p.status === 'partial');
  const type =
    partial.length > 0
      ? 'reset.partial'
      : r.periods.length > 0
        ? 'reset.succeeded'
        : r.alreadyClosed.length > 0
          ? 'reset.skipped_already_closed'
          : 'reset.succeeded';
  const periodLabel = keys.length ? keys.join(', ') : r.alreadyClosed.join(', ') || 'none due';
  const lines: string[] = [];
  for (const p of r.periods) {
    lines.push(
      `${p.key} (${p.start} to ${p.end}): closed ${n(p.subjects)} subject(s), ${n(p.used)} unit(s) used, ${n(p.atLimit)} at their limit` +
        (p.status === 'partial'
          ? '; some subjects reach the end of this period later (other time zones or signup anchors) and a later run closes them'
          : '') +
        '.',
    );
  }
  if (r.periods.length > 1) lines.push(`Caught up ${r.periods.length} periods, oldest first.`);
  for (const key of r.alreadyClosed) lines.push(`${key} was already closed; nothing was changed.`);
  if (r.periods.length === 0 && r.alreadyClosed.length === 0)
    lines.push('No period has ended since the last run; nothing to close.');
  if (r.pruned && (r.pruned.periods > 0 || r.pruned.events > 0)) {
    lines.push(
      `Pruned ${n(r.pruned.periods)} closed period(s) and ${n(r.pruned.events)} event(s) older than ${r.pruned.olderThan}.`,
    );
  }
  const title =
    type === 'reset.partial'
      ? `quotaclock reset partly done: ${periodLabel}, ${n(subjects)} subject(s) closed`
      : type === 'reset.skipped_already_closed'
        ? `quotaclock reset: ${periodLabel} already closed`
        : r.periods.length
          ? `quotaclock reset succeeded: ${periodLabel}, ${n(subjects)} subject(s) closed`
          : 'quotaclock reset succeeded: nothing due';
  return {
    type,
    severity: type === 'reset.partial' ? 'warning' : 'ok',
    title,
    lines,
    fields: [
      { label: 'Period', value: periodLabel, short: true },
      { label: 'Subjects closed', value: n(subjects), short: true },
      { label: 'Errors', value: '0', short: true },
      { label: 'Units used', value: n(used), short: true },
      { label: 'At limit', value: n(atLimit), short: true },
      ...common(ctx, r.durationMs),
    ],
    host: ctx.host,
    log: ctx.log,
    at: at(ctx),
    period: periodLabel,
    durationMs: r.durationMs,
    counts: { subjectsClosed: subjects, errors: 0, used, atLimit, periods: r.periods.length },
    data: {
      dryRun: r.dryRun,
      periods: r.periods,
      alreadyClosed: r.alreadyClosed,
      pruned: r.pruned,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    },
  };
}

export interface FailureFacts {
  readonly error: unknown;
  readonly durationMs: number;
  /** The period being closed when it failed, if known. */
  readonly period?: string;
  /** Subjects closed before the failure (they stay closed: each batch commits with its checkpoint). */
  readonly subjectsClosed?: number;
}

export function resetFailedEvent(f: FailureFacts, ctx: MessageContext): NotifyEvent {
  const message = redact(f.error instanceof Error ? f.error.message : String(f.error));
  const period = f.period ?? 'unknown';
  const closed = f.subjectsClosed ?? 0;
  return {
    type: 'reset.failed',
    severity: 'error',
    title: `quotaclock reset FAILED on ${ctx.host}${f.period ? ` (${f.period})` : ''}`,
    lines: [
      `The reset stopped with an error: ${message}`,
      `Work done before the failure is kept: each batch commits with its checkpoint. Fix the cause and run "quotaclock reset" again; it resumes where this run stopped. "quotaclock runs" shows the ledger.`,
      `Details are in the log: ${ctx.log}`,
    ],
    fields: [
      { label: 'Period', value: period, short: true },
      { label: 'Subjects closed', value: n(closed), short: true },
      { label: 'Errors', value: '1', short: true },
      { label: 'Error', value: message },
      ...common(ctx, f.durationMs),
    ],
    host: ctx.host,
    log: ctx.log,
    at: at(ctx),
    ...(f.period ? { period: f.period } : {}),
    durationMs: f.durationMs,
    counts: { subjectsClosed: closed, errors: 1 },
    data: { error: message },
  };
}

export function verifyFailedEvent(
  r: VerifyReport,
  ctx: MessageContext,
  durationMs?: number,
): NotifyEvent {
  const kinds: Record<string, number> = {};
  for (const v of r.violations) kinds[v.kind] = (kinds[v.kind] ?? 0) + 1;
  const shown = r.violations
    .slice(0, 10)
    .map((v) => `${v.kind}${v.subject ? ` [${v.subject}]` : ''}: ${v.message}`);
  return {
    type: 'verify.failed',
    severity: 'error',
    title: `quotaclock verify found ${n(r.violations.length)} violation(s) on ${ctx.host}`,
    lines: [
      ...shown,
      ...(r.violations.length > shown.length
        ? [
            `… and ${n(r.violations.length - shown.length)} more; run "quotaclock verify" to see them all.`,
          ]
        : []),
    ],
    fields: [
      { label: 'Violations', value: n(r.violations.length), short: true },
      { label: 'Errors', value: n(r.violations.length), short: true },
      {
        label: 'Kinds',
        value: Object.entries(kinds)
          .map(([k, c]) => `${k} ${c}`)
          .join(', '),
      },
      ...common(ctx, durationMs),
    ],
    host: ctx.host,
    log: ctx.log,
    at: at(ctx),
    ...(durationMs === undefined ? {} : { durationMs }),
    counts: { violations: r.violations.length, errors: r.violations.length, ...kinds },
    data: { violations: r.violations.slice(0, 100), warnings: r.warnings },
  };
}

export interface ThresholdFacts {
  readonly subject: string;
  readonly plan: string | null;
  readonly feature: string;
  readonly used: number;
  readonly limit: number;
  readonly threshold: number;
  readonly period: { readonly key: string; readonly start: string; readonly end: string };
}

export function thresholdEvent(t: ThresholdFacts, ctx: MessageContext): NotifyEvent {
  const pct = t.limit === 0 ? 100 : Math.floor((t.used / t.limit) * 100);
  const reached = t.threshold >= 100 ? 'reached its limit' : `passed ${t.threshold}% of its limit`;
  return {
    type: 'quota.threshold',
    severity: t.threshold >= 100 ? 'warning' : 'ok',
    title: `quotaclock: ${t.subject} ${reached} for ${t.feature} (${n(t.used)}/${n(t.limit)}) in ${t.period.key}`,
    lines: [
      `Subject ${t.subject}${t.plan ? ` (plan ${t.plan})` : ''} has used ${n(t.used)} of ${n(t.limit)} ${t.feature} (${pct}%) in period ${t.period.key}, which ends ${t.period.end}.`,
      t.threshold >= 100
        ? 'Further requests are refused until the period ends or the limit changes.'
        : 'This notice is sent once per subject, feature, period and threshold.',
    ],
    fields: [
      { label: 'Subject', value: t.subject, short: true },
      { label: 'Plan', value: t.plan ?? 'unknown', short: true },
      { label: 'Feature', value: t.feature, short: true },
      { label: 'Used', value: `${n(t.used)} of ${n(t.limit)} (${pct}%)`, short: true },
      { label: 'Threshold', value: `${t.threshold}%`, short: true },
      { label: 'Period', value: `${t.period.key} (${t.period.start} to ${t.period.end})` },
      ...common(ctx),
    ],
    host: ctx.host,
    log: ctx.log,
    at: at(ctx),
    period: t.period.key,
    counts: { used: t.used, limit: t.limit, threshold: t.threshold, percent: pct },
    data: {
      subject: t.subject,
      plan: t.plan,
      feature: t.feature,
      used: t.used,
      limit: t.limit,
      threshold: t.threshold,
      period: t.period,
    },
  };
}

export function testEvent(ctx: MessageContext): NotifyEvent {
  return {
    type: 'test',
    severity: 'ok',
    title: `quotaclock test notification from ${ctx.host}`,
    lines: [
      'This is a test sent by "quotaclock notify test". If you can read it, this target works.',
    ],
    fields: [
      { label: 'Subjects closed', value: '0', short: true },
      { label: 'Errors', value: '0', short: true },
      ...common(ctx),
    ],
    host: ctx.host,
    log: ctx.log,
    at: at(ctx),
    counts: { subjectsClosed: 0, errors: 0 },
  };
}
