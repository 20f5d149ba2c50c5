import { targetLabels } from '../notify/labels.js';
import type { QuotaClock } from '../quotaclock.js';
import type { JobMetric } from '../store/quota-store.js';

interface Family {
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly samples: Array<{ labels: Readonly<Record<string, string>>; value: number }>;
}

const escapeLabel = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}

const HELP: Record<string, { help: string; type: 'gauge' | 'counter' }> = {
  quotaclock_reset_last_success_timestamp_seconds: {
    help: 'Unix time at which a reset last closed the period (wall clock).',
    type: 'gauge',
  },
  quotaclock_reset_last_completed_timestamp_seconds: {
    help: 'Unix time of the last reset run that finished without error, even with nothing due.',
    type: 'gauge',
  },
  quotaclock_reset_last_run_timestamp_seconds: {
    help: 'Unix time at which the last reset run ended, successful or not.',
    type: 'gauge',
  },
  quotaclock_reset_last_run_duration_seconds: {
    help: 'Duration of the last reset run.',
    type: 'gauge',
  },
  quotaclock_reset_last_run_success: {
    help: '1 if the last reset run succeeded, 0 if it failed.',
    type: 'gauge',
  },
  quotaclock_reset_last_run_subjects_closed: {
    help: 'Subjects whose period the last reset run closed.',
    type: 'gauge',
  },
  quotaclock_reset_subjects_closed_total: {
    help: 'Subjects whose period a reset run closed, over all runs.',
    type: 'counter',
  },
  quotaclock_reset_runs_total: {
    help: 'Reset runs by outcome (succeeded, partial, skipped_already_closed, lease_held, failed).',
    type: 'counter',
  },
  quotaclock_notifier_failures_total: {
    help: 'Notifications and heartbeat pings that failed after their retries.',
    type: 'counter',
  },
};

function render(families: Map<string, Family>): string {
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels);
      const l = labels.length
        ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
        : '';
      out.push(`${name}${l} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * Prometheus text exposition (version 0.0.4) of the reset job, consume
 * totals and notifier health. `quotaclock metrics` prints it; the daemon
 * serves it on /metrics. Everything comes from the store, so every
 * process's runs are included, whichever host ran them.
 */
export async function renderMetrics(
  qc: QuotaClock,
  opts: { nowMs?: number } = {},
): Promise<string> {
  const nowMs = opts.nowMs ?? qc.now();
  const store = await qc.store();
  const families = new Map<string, Family>();
  const family = (name: string, help?: string, type?: 'gauge' | 'counter'): Family => {
    let f = families.get(name);
    if (!f) {
      const meta = HELP[name] ?? { help: help ?? name, type: type ?? 'gauge' };
      f = { help: help ?? meta.help, type: type ?? meta.type, samples: [] };
      families.set(name, f);
    }
    return f;
  };

  const job: JobMetric[] = await store.jobMetrics();
  // Periods closed before job metrics existed come from the ledger.
  const runs = await store.listRuns(Math.max(24, qc.policy.retentionPeriods));
  const succeeded = new Map<string, number>();
  for (const r of runs) {
    if ((r.status === 'closed' || r.status === 'partial') && r.finishedAt)
      succeeded.set(r.key, Date.parse(r.finishedAt) / 1000);
  }
  for (const m of job) {
    if (m.name === 'quotaclock_reset_last_success_timestamp_seconds' && m.labels.period)
      succeeded.set(m.labels.period, m.value);
  }
  const last = family('quotaclock_reset_last_success_timestamp_seconds');
  for (const [period, value] of [...succeeded.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
    last.samples.push({ labels: { period }, value });

  for (const m of job) {
    if (m.name === 'quotaclock_reset_last_success_timestamp_seconds') continue;
    family(m.name).samples.push({ labels: m.labels, value: m.value });
  }
  // Every configured target gets a failure series from the start, so rate() and alerts see 0, not nothing.
  const failures = family('quotaclock_notifier_failures_total');
  const labels = targetLabels(qc.config.notify);
  qc.config.notify.targets.forEach((t, i) => {
    const target = labels[i]!;
    if (!failures.samples.some((s) => s.labels.target === target))
      failures.samples.push({ labels: { kind: t.type, target }, value: 0 });
  });

  const run = family(
    'quotaclock_reset_run_info',
    'The latest runs in the ledger by period and status (1 per row).',
    'gauge',
  );
  for (const r of runs.slice(0, 3))
    run.samples.push({ labels: { period: r.key, status: r.status }, value: 1 });

  const pending = await store.pendingPeriods(nowMs);
  family(
    'quotaclock_reset_pending_subjects',
    'Subjects with a period that has ended and is not closed yet.',
    'gauge',
  ).samples.push({
    labels: {},
    value: pending.reduce((s, p) => s + p.subjects, 0),
  });
  family(
    'quotaclock_reset_pending_periods',
    'Period keys with at least one ended, unclosed subject period.',
    'gauge',
  ).samples.push({
    labels: {},
    value: pending.length,
  });

  const t = await store.consumeTotals();
  const c = family(
    'quotaclock_consume_requests_total',
    'Consume requests by outcome (idempotent replays count once).',
    'counter',
  );
  c.samples.push(
    { labels: { outcome: 'granted' }, value: t.granted },
    { labels: { outcome: 'denied' }, value: t.denied },
  );
  family(
    'quotaclock_consume_units_granted_total',
    'Units granted by consume requests.',
    'counter',
  ).samples.push({ labels: {}, value: t.unitsGranted });
  family(
    'quotaclock_metrics_generated_timestamp_seconds',
    'When this text was generated.',
    'gauge',
  ).samples.push({ labels: {}, value: Date.now() / 1000 });
  for (const [name, f] of families) if (f.samples.length === 0) families.delete(name);
  return render(families);
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
