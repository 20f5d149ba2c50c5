import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { renderMetrics } from '../../src/metrics/prometheus.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { closedPort, FAST_RETRY, seededClock, tempDir } from './helpers.js';

/** Checks the exposition format: every sample belongs to a family announced by HELP and TYPE. */
function parse(
  text: string,
): Map<string, { type: string; samples: Array<{ labels: string; value: number }> }> {
  const families = new Map<
    string,
    { type: string; samples: Array<{ labels: string; value: number }> }
  >();
  let current = '';
  for (const line of text.trimEnd().split('\n')) {
    const help = /^# HELP ([a-z_]+) .+$/.exec(line);
    if (help) {
      current = help[1]!;
      continue;
    }
    const type = /^# TYPE ([a-z_]+) (gauge|counter)$/.exec(line);
    if (type) {
      expect(type[1]).toBe(current);
      families.set(current, { type: type[2]!, samples: [] });
      continue;
    }
    const m = /^([a-z_]+)(\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+)$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    expect(m![1]).toBe(current);
    families.get(current)!.samples.push({ labels: m![2] ?? '', value: Number(m![3]) });
  }
  return families;
}

describe('quotaclock metrics', () => {
  it('reports the last successful reset per period, run duration, subjects closed, consume totals and notifier failures', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const qc = await seededClock(dir, {
      retention: { periods: 1 },
      notify: {
        retry: FAST_RETRY,
        events: ['reset.succeeded'],
        targets: [{ type: 'slack' }, { type: 'webhook', name: 'billing' }],
      },
    });
    await qc.consume('alice', 'stock_reports', 1, { now: Date.parse('2026-10-30T00:00:00Z') }); // denied: alice is at 45
    const env = {
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/services/x`,
      QUOTACLOCK_WEBHOOK_URL: `http://127.0.0.1:${port}/h`,
      QUOTACLOCK_WEBHOOK_SECRET: 'metrics-secret',
    };
    qc.setNow('2026-11-01T00:05:00Z');
    const before = Date.now() / 1000;
    await runScheduledReset(qc, { env });
    const fresh = parse(await renderMetrics(qc));
    // Both targets failed (nothing listens on the port): one failure each, per target.
    expect(fresh.get('quotaclock_notifier_failures_total')).toEqual({
      type: 'counter',
      samples: [
        { labels: '{kind="slack",target="slack"}', value: 1 },
        { labels: '{kind="webhook",target="webhook:billing"}', value: 1 },
      ],
    });
    const last = fresh.get('quotaclock_reset_last_success_timestamp_seconds')!;
    expect(last.type).toBe('gauge');
    expect(last.samples).toHaveLength(1);
    expect(last.samples[0]!.labels).toBe('{period="2026-10"}');
    expect(last.samples[0]!.value).toBeGreaterThanOrEqual(Math.floor(before));
    expect(fresh.get('quotaclock_reset_last_run_subjects_closed')!.samples[0]!.value).toBe(5);
    expect(
      fresh.get('quotaclock_reset_last_run_duration_seconds')!.samples[0]!.value,
    ).toBeGreaterThanOrEqual(0);
    expect(fresh.get('quotaclock_reset_last_run_success')!.samples[0]!.value).toBe(1);
    expect(fresh.get('quotaclock_reset_runs_total')!.samples).toEqual([
      { labels: '{outcome="succeeded"}', value: 1 },
    ]);
    expect(fresh.get('quotaclock_consume_requests_total')!.samples).toEqual([
      { labels: '{outcome="granted"}', value: 94 },
      { labels: '{outcome="denied"}', value: 1 },
    ]);
    expect(fresh.get('quotaclock_consume_units_granted_total')!.samples[0]!.value).toBe(94);
    expect(fresh.get('quotaclock_reset_pending_subjects')!.samples[0]!.value).toBe(0);

    // Two months later, retention (1 period) prunes October's events: the counters must not go down.
    await qc.consume('bob', 'stock_reports', 3, { now: Date.parse('2026-12-05T00:00:00Z') });
    qc.setNow('2027-01-01T00:05:00Z');
    expect(
      parse(await renderMetrics(qc)).get('quotaclock_reset_pending_subjects')!.samples[0]!.value,
    ).toBe(5);
    // Business time runs ahead of this machine's clock here: closing December needs --force.
    const later = await runScheduledReset(qc, { env, force: true });
    expect(later.periods.map((p) => p.key)).toEqual(['2026-11', '2026-12']);
    expect(later.pruned!.events).toBeGreaterThan(0);
    const after = parse(await renderMetrics(qc));
    await qc.close();
    expect(after.get('quotaclock_consume_requests_total')!.samples).toEqual([
      { labels: '{outcome="granted"}', value: 95 },
      { labels: '{outcome="denied"}', value: 1 },
    ]);
    expect(after.get('quotaclock_consume_units_granted_total')!.samples[0]!.value).toBe(97);
    expect(
      after.get('quotaclock_reset_last_success_timestamp_seconds')!.samples.map((s) => s.labels),
    ).toEqual(['{period="2026-10"}', '{period="2026-11"}', '{period="2026-12"}']);
    expect(after.get('quotaclock_reset_subjects_closed_total')!.samples[0]!.value).toBe(15);
    expect(after.get('quotaclock_reset_runs_total')!.samples[0]!.value).toBe(2);
  });

  it('the CLI prints the same text, or writes it atomically for the textfile collector', async () => {
    ensureBuilt();
    const dir = tempDir();
    await runCli(['init'], { cwd: dir });
    await runCli(['consume', 'alice', 'stock_reports'], { cwd: dir });
    const r = await runCli(['metrics'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('quotaclock_consume_requests_total{outcome="granted"} 1\n');
    expect(() => parse(r.stdout)).not.toThrow();
    const out = await runCli(['metrics', '--out', 'qc.prom'], { cwd: dir });
    expect(out.stdout).toContain('wrote metrics to');
    expect(readFileSync(join(dir, 'qc.prom'), 'utf8')).toContain(
      '# TYPE quotaclock_consume_requests_total counter',
    );
  });
});
