import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { describeReset } from '../../src/jobs/reset-report.js';
import { Notifications } from '../../src/notify/dispatcher.js';
import { messageContext } from '../../src/notify/messages.js';
import { CHART_CID, reportEvent } from '../../src/report/event.js';
import { renderChartPng } from '../../src/report/chart.js';
import { buildUsageReport } from '../../src/report/usage-report.js';
import {
  capturingLogger,
  FAST_RETRY,
  parseMime,
  seededClock,
  startSmtp,
  tempDir,
  type Smtp,
} from './helpers.js';

const USER = 'quotaclock-bot';
const PASSWORD = 'smtp-pa55word-Zq81x';

function emailConfig(smtp: Smtp, extra: Record<string, unknown> = {}) {
  return {
    notify: {
      retry: FAST_RETRY,
      timeoutMs: 5000,
      // Threshold notices are tested in thresholds.test.ts; here they would fire while seeding.
      events: ['reset.succeeded', 'reset.failed', 'reset.partial', 'verify.failed'] as const,
      targets: [
        {
          type: 'email' as const,
          name: 'ops',
          from: 'quotaclock@example.com',
          to: ['ops@example.com', 'oncall@example.com'],
          smtp: {
            host: '127.0.0.1',
            port: smtp.port,
            user: USER,
            password: { env: 'TEST_SMTP_PASSWORD' },
            security: 'starttls' as const,
            caFile: smtp.caFile,
          },
        },
      ],
      ...extra,
    },
  };
}

describe('email notifications through a real SMTP server (STARTTLS + AUTH)', () => {
  let smtp: Smtp;
  beforeAll(async () => {
    smtp = await startSmtp({ user: USER, pass: PASSWORD });
  });
  afterAll(async () => {
    await smtp.close();
  });

  it('sends reset.succeeded with subject, counts, duration, period, host and log location in text and HTML', async () => {
    const dir = tempDir();
    const qc = await seededClock(dir, emailConfig(smtp));
    qc.setNow('2026-11-01T00:05:00Z');
    const { logger, lines } = capturingLogger();
    const before = smtp.messages.length;
    const report = await runScheduledReset(qc, {
      trigger: 'cli',
      logger,
      env: { TEST_SMTP_PASSWORD: PASSWORD },
    });
    await qc.close();

    expect(report.outcome).toBe('ok');
    expect(report.periods.map((p) => p.key)).toEqual(['2026-10']);
    expect(report.notifications).toEqual([
      expect.objectContaining({
        target: 'email:ops',
        kind: 'email',
        ok: true,
        attempts: 1,
        event: 'reset.succeeded',
      }),
    ]);
    const msg = smtp.messages[before]!;
    expect(msg.secure).toBe(true); // STARTTLS happened before AUTH and DATA
    expect(msg.user).toBe(USER);
    expect(msg.to).toEqual(['ops@example.com', 'oncall@example.com']);
    const mime = parseMime(msg.raw);
    expect(mime.headers.subject).toBe('quotaclock reset succeeded: 2026-10, 5 subject(s) closed');
    expect(mime.headers['x-quotaclock-event']).toBe('reset.succeeded');
    const text = mime.parts
      .find((p) => p.headers['content-type']?.startsWith('text/plain'))!
      .body.toString('utf8');
    const html = mime.parts
      .find((p) => p.headers['content-type']?.startsWith('text/html'))!
      .body.toString('utf8');
    for (const body of [text, html]) {
      expect(body).toContain('2026-10');
      expect(body).toContain('Subjects closed');
      expect(body).toMatch(/Duration/);
      expect(body).toContain('Host');
      expect(body).toContain('stderr of the job'); // where the log is: no log file configured here
    }
    expect(text).toMatch(/closed 5 subject\(s\), 94 unit\(s\) used, 1 at their limit/);
    expect(text).toMatch(/Errors:\s+0/);
    expect(lines.some((l) => l.includes('"notification sent to email:ops"'))).toBe(true);
  });

  it('sends the HTML report with the chart as an inline cid image', async () => {
    const dir = tempDir();
    const qc = await seededClock(dir, emailConfig(smtp));
    qc.setNow('2026-11-01T00:05:00Z');
    await runScheduledReset(qc, { env: { TEST_SMTP_PASSWORD: PASSWORD } });
    const report = await buildUsageReport(qc, { period: '2026-10' });
    const png = await renderChartPng(report);
    const n = new Notifications(qc.config.notify, { env: { TEST_SMTP_PASSWORD: PASSWORD } });
    const before = smtp.messages.length;
    const results = await n.emit(reportEvent(report, png, messageContext(qc.config)));
    await qc.close();
    expect(results).toEqual([expect.objectContaining({ ok: true, event: 'report' })]);

    const mime = parseMime(smtp.messages[before]!.raw);
    expect(mime.headers.subject).toBe('Quota usage report: 2026-10');
    expect(mime.headers['content-type']).toMatch(
      /multipart\/related|multipart\/alternative|multipart\/mixed/,
    );
    const html = mime.parts
      .find((p) => p.headers['content-type']?.startsWith('text/html'))!
      .body.toString('utf8');
    expect(html).toContain(`src="cid:${CHART_CID}"`);
    expect(html).toContain('Utilisation by plan');
    expect(html).toContain('alice');
    const image = mime.parts.find((p) => p.headers['content-id'] === `<${CHART_CID}>`)!;
    expect(image.headers['content-type']).toMatch(/^image\/png/);
    expect(image.headers['content-disposition']).toMatch(/^inline/);
    expect(image.body.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(image.body.readUInt32BE(16)).toBe(1520); // PNG width: 760 px chart at 2x
    expect(image.body.equals(png)).toBe(true);
    const text = mime.parts
      .find((p) => p.headers['content-type']?.startsWith('text/plain'))!
      .body.toString('utf8');
    expect(text).toMatch(/5 subject\(s\), 4 active; 94 unit\(s\) used/);
  });

  it('with a wrong password the reset still succeeds; the failure is logged and in the run summary', async () => {
    const dir = tempDir();
    const qc = await seededClock(dir, emailConfig(smtp));
    qc.setNow('2026-11-01T00:05:00Z');
    const { logger, lines } = capturingLogger();
    const failuresBefore = smtp.authFailures;
    const wrong = 'not-the-Password-77';
    const report = await runScheduledReset(qc, {
      trigger: 'cli',
      logger,
      env: { TEST_SMTP_PASSWORD: wrong },
    });

    expect(report.outcome).toBe('ok');
    expect(report.periods).toEqual([
      expect.objectContaining({ key: '2026-10', status: 'closed', subjects: 5 }),
    ]);
    expect((await (await qc.store()).getRun('2026-10'))!.status).toBe('closed');
    const failed = report.notifications!.find((d) => d.kind === 'email')!;
    // A refused login is permanent: no retry storm against the mail server.
    expect(failed).toMatchObject({ ok: false, attempts: 1, target: 'email:ops' });
    expect(failed.error).toMatch(/Invalid login|535|Authentication/i);
    expect(smtp.authFailures).toBe(failuresBefore + 1);
    const errorLine = lines.find((l) => l.includes('"level":"error"') && l.includes('email:ops'));
    expect(errorLine).toBeDefined();
    expect(describeReset(report)).toMatch(
      /notification to email:ops FAILED after 1 attempt\(s\).*the reset itself did not fail/,
    );
    const metrics = await (await qc.store()).jobMetrics();
    expect(metrics).toContainEqual(
      expect.objectContaining({
        name: 'quotaclock_notifier_failures_total',
        labels: { kind: 'email', target: 'email:ops' },
        value: 1,
      }),
    );
    await qc.close();
    for (const text of [...lines, JSON.stringify(report), describeReset(report)])
      expect(text).not.toContain(wrong);
  });

  it('a missing password variable is this target’s failure, named by config path, not the reset’s', async () => {
    const dir = tempDir();
    const qc = await seededClock(dir, emailConfig(smtp));
    qc.setNow('2026-11-01T00:05:00Z');
    const report = await runScheduledReset(qc, { env: {} });
    await qc.close();
    expect(report.outcome).toBe('ok');
    expect(report.notifications![0]).toMatchObject({ ok: false, attempts: 1 });
    expect(report.notifications![0]!.error).toBe(
      'notify.targets.0.smtp.password: environment variable TEST_SMTP_PASSWORD is not set',
    );
  });
});
