import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { Notifications } from '../../src/notify/dispatcher.js';
import { messageContext, resetFailedEvent, testEvent } from '../../src/notify/messages.js';
import { verifyWebhookSignature } from '../../src/notify/webhook.js';
import {
  capturingLogger,
  FAST_RETRY,
  seededClock,
  startReceiver,
  tempDir,
  type Receiver,
} from './helpers.js';

const SECRET = 'whsec_9c1f0e6b2a7d4c3e8f5a';
const RESET_EVENTS = ['reset.succeeded', 'reset.failed', 'reset.partial', 'verify.failed'] as const;

describe('Slack and webhook notifications to a real HTTP receiver', () => {
  let rx: Receiver;
  beforeEach(async () => {
    rx = await startReceiver();
  });
  afterEach(async () => {
    await rx.close();
  });

  const env = () => ({
    SLACK_WEBHOOK_URL: `${rx.base}/services/T0AAA/B0BBB/slacktoken0123456789`,
    QUOTACLOCK_WEBHOOK_URL: `${rx.base}/hooks/quota?token=hooktoken987654321`,
    QUOTACLOCK_WEBHOOK_SECRET: SECRET,
  });
  const config = {
    notify: {
      retry: FAST_RETRY,
      events: [...RESET_EVENTS],
      targets: [{ type: 'slack' as const }, { type: 'webhook' as const }],
    },
  };

  it('posts a Block Kit message (green, subjects closed and errors) and a signed JSON document after a reset', async () => {
    const dir = tempDir();
    const qc = await seededClock(dir, config);
    qc.setNow('2026-11-01T00:05:00Z');
    const report = await runScheduledReset(qc, { trigger: 'daemon', env: env() });
    await qc.close();
    expect(report.notifications!.map((d) => [d.target, d.ok, d.attempts])).toEqual([
      ['slack', true, 1],
      ['webhook', true, 1],
    ]);

    const slack = rx.requests.find((r) => r.path.startsWith('/services/'))!;
    expect(slack.method).toBe('POST');
    expect(slack.headers['content-type']).toBe('application/json');
    const msg = JSON.parse(slack.body);
    expect(msg.text).toBe('quotaclock reset succeeded: 2026-10, 5 subject(s) closed');
    expect(msg.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: msg.text, emoji: true },
    });
    expect(msg.blocks[1].type).toBe('section');
    expect(msg.blocks[1].text.text).toContain('closed 5 subject(s), 94 unit(s) used');
    expect(msg.attachments).toHaveLength(1);
    expect(msg.attachments[0].color).toBe('#2EB67D');
    const fields = msg.attachments[0].blocks[0].fields.map((f: { text: string }) => f.text);
    expect(fields).toContain('*Subjects closed*\n5');
    expect(fields).toContain('*Errors*\n0');
    expect(fields).toContain('*Period*\n2026-10');
    expect(fields).toContain('*Trigger*\ndaemon');
    expect(fields.some((f: string) => f.startsWith('*Duration*\n'))).toBe(true);
    expect(fields.some((f: string) => f.startsWith('*Log*\n'))).toBe(true);

    const hook = rx.requests.find((r) => r.path.startsWith('/hooks/'))!;
    expect(hook.path).toBe('/hooks/quota?token=hooktoken987654321');
    const signature = hook.headers['x-quotaclock-signature'] as string;
    expect(verifyWebhookSignature(SECRET, hook.body, signature)).toBe(true);
    // Checked by hand too, the way a receiver in another language would.
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature)!;
    expect(createHmac('sha256', SECRET).update(`${t}.${hook.body}`).digest('hex')).toBe(v1);
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    expect(verifyWebhookSignature('wrong-secret-value', hook.body, signature)).toBe(false);
    expect(
      verifyWebhookSignature(
        SECRET,
        hook.body.replace('"subjectsClosed":5', '"subjectsClosed":6'),
        signature,
      ),
    ).toBe(false);
    expect(verifyWebhookSignature(SECRET, hook.body, signature, { nowSec: Number(t) + 3600 })).toBe(
      false,
    );
    expect(hook.headers['x-quotaclock-event']).toBe('reset.succeeded');
    const doc = JSON.parse(hook.body);
    expect(doc).toMatchObject({
      id: hook.headers['x-quotaclock-delivery'],
      event: 'reset.succeeded',
      severity: 'ok',
      period: '2026-10',
      counts: { subjectsClosed: 5, errors: 0, used: 94, atLimit: 1, periods: 1 },
      fields: { 'Subjects closed': '5', Errors: '0', Trigger: 'daemon' },
    });
    expect(doc.durationMs).toBeGreaterThanOrEqual(0);
    expect(typeof doc.host).toBe('string');
    expect(doc.data.periods[0]).toMatchObject({ key: '2026-10', subjects: 5, used: 94 });
  });

  it('a failure is orange in Slack and says what failed, the counts and how to resume', async () => {
    const cfg = parseConfig(config);
    const n = new Notifications(cfg.notify, { env: env() });
    const results = await n.emit(
      resetFailedEvent(
        {
          error: new Error('SQLITE_BUSY: database is locked'),
          durationMs: 4200,
          period: '2026-10',
          subjectsClosed: 12000,
        },
        messageContext(cfg),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    const msg = JSON.parse(rx.requests.find((r) => r.path.startsWith('/services/'))!.body);
    expect(msg.attachments[0].color).toBe('#F2A33A');
    expect(msg.text).toMatch(/^quotaclock reset FAILED on .+ \(2026-10\)$/);
    const fields = msg.attachments[0].blocks[0].fields.map((f: { text: string }) => f.text);
    expect(fields).toContain('*Subjects closed*\n12,000');
    expect(fields).toContain('*Errors*\n1');
    expect(fields).toContain('*Duration*\n4.2 s');
    expect(msg.blocks[1].text.text).toContain('SQLITE_BUSY: database is locked');
    expect(msg.blocks[1].text.text).toContain('resumes where this run stopped');
  });

  it('retries with backoff: a receiver that fails twice then succeeds gets three attempts of one delivery', async () => {
    rx.plan('/services/', [500, 503, 200]);
    rx.plan('/hooks/', [502, 500, 200]);
    const cfg = parseConfig(config);
    const { logger, lines } = capturingLogger();
    const n = new Notifications(cfg.notify, { env: env(), logger });
    const started = Date.now();
    const results = await n.emit(testEvent(messageContext(cfg)), { all: true });
    expect(results.map((r) => [r.target, r.ok, r.attempts])).toEqual([
      ['slack', true, 3],
      ['webhook', true, 3],
    ]);
    expect(rx.requests).toHaveLength(6);
    // Backoff: at least the two waits of the first round (10-20 ms, then 20-40 ms).
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
    const hooks = rx.requests.filter((r) => r.path.startsWith('/hooks/'));
    expect(new Set(hooks.map((h) => h.headers['x-quotaclock-delivery'])).size).toBe(1);
    expect(hooks.map((h) => h.headers['x-quotaclock-attempt'])).toEqual(['1', '2', '3']);
    for (const h of hooks)
      expect(
        verifyWebhookSignature(SECRET, h.body, h.headers['x-quotaclock-signature'] as string),
      ).toBe(true);
    expect(
      lines.filter((l) => l.includes('"level":"warn"') && l.includes('retrying')),
    ).toHaveLength(4);
    expect(lines.filter((l) => l.includes('"level":"error"'))).toHaveLength(0);
  });

  it('gives up after the configured attempts, and does not retry a 4xx', async () => {
    rx.plan('/services/', [404]);
    rx.plan('/hooks/', [500, 500, 500]);
    const cfg = parseConfig(config);
    const { logger, lines } = capturingLogger();
    const failures: string[] = [];
    const n = new Notifications(cfg.notify, {
      env: env(),
      logger,
      onFailure: (r) => failures.push(r.target),
    });
    const results = await n.emit(testEvent(messageContext(cfg)), { all: true });
    const [slack, hook] = results;
    expect(slack).toMatchObject({
      target: 'slack',
      ok: false,
      attempts: 1,
      error: 'slack: HTTP 404 (failing on purpose)',
    });
    expect(hook).toMatchObject({
      target: 'webhook',
      ok: false,
      attempts: 3,
      error: 'webhook: HTTP 500 (failing on purpose)',
    });
    expect(rx.requests).toHaveLength(4);
    expect(failures.sort()).toEqual(['slack', 'webhook']);
    expect(lines.filter((l) => l.includes('"level":"error"'))).toHaveLength(2);
  });

  it('reset.skipped_already_closed is off by default, and on when listed', async () => {
    const dir = tempDir();
    const qc = await seededClock(dir, config);
    qc.setNow('2026-11-01T00:05:00Z');
    await runScheduledReset(qc, { env: env() });
    const before = rx.requests.length;
    const again = await runScheduledReset(qc, { env: env() });
    await qc.close();
    expect(again.alreadyClosed).toEqual(['2026-10']);
    expect(again.notifications).toEqual([]);
    expect(rx.requests.length).toBe(before);

    const qc2 = await seededClock(tempDir(), {
      notify: { ...config.notify, events: [...RESET_EVENTS, 'reset.skipped_already_closed'] },
    });
    qc2.setNow('2026-11-01T00:05:00Z');
    await runScheduledReset(qc2, { env: env() });
    const third = await runScheduledReset(qc2, { env: env() });
    await qc2.close();
    expect(third.notifications!.map((d) => [d.event, d.ok])).toEqual([
      ['reset.skipped_already_closed', true],
      ['reset.skipped_already_closed', true],
    ]);
    const last = JSON.parse(rx.requests[rx.requests.length - 1]!.body);
    expect(last.title ?? last.text).toMatch(/2026-10 already closed/);
  });

  it('a dry run sends nothing', async () => {
    const qc = await seededClock(tempDir(), config);
    qc.setNow('2026-11-01T00:05:00Z');
    const r = await runScheduledReset(qc, { dryRun: true, env: env() });
    await qc.close();
    expect(r.notifications).toBeUndefined();
    expect(rx.requests).toHaveLength(0);
  });
});
