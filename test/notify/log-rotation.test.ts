import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScheduledReset } from '../../src/jobs/reset-all.js';
import { createLogger, flushLogger, pruneRotatedLogs } from '../../src/log/logger.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { FAST_RETRY, seededClock, startReceiver, tempDir } from './helpers.js';

const today = () => new Date().toISOString().slice(0, 10); // the tests run with TZ=UTC
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^quota_reset\./.test(f))
    .sort();

describe('log rotation by size and date, with a bound on kept files', () => {
  it('rotates by size inside one process and keeps at most `keep` old files plus the live one', async () => {
    const dir = join(tempDir(), 'logs');
    const logger = createLogger({
      file: join(dir, 'quota_reset.log'),
      maxSize: '1k',
      frequency: 'daily',
      keep: 2,
      destination: { write: () => true } as unknown as NodeJS.WritableStream,
    });
    for (let i = 0; i < 120; i++) {
      logger.info({ i, pad: 'x'.repeat(40) }, 'line');
      if (i % 10 === 9) await sleep(15); // let the file stream drain and roll
    }
    await flushLogger(logger);
    await sleep(200);
    const files = logFiles(dir);
    expect(files.length).toBeLessThanOrEqual(3);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) expect(f).toMatch(new RegExp(`^quota_reset\\.${today()}\\.\\d+\\.log$`));
    const live = readlinkSync(join(dir, 'current.log'));
    expect(live).toBe(
      files.sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2])).at(-1),
    );
    // Rolls happen between writes of the worker, so a file can pass maxSize by one batch; nothing is lost at the end.
    expect(files.map((f) => readFileSync(join(dir, f), 'utf8')).join('')).toContain('"i":119');
  });

  it('holds the bound across processes: a monthly job starting on a new day deletes the oldest files', async () => {
    const dir = join(tempDir(), 'logs');
    mkdirSync(dir, { recursive: true });
    const old = [
      '2026-01-01',
      '2026-02-01',
      '2026-03-01',
      '2026-04-01',
      '2026-05-01',
      '2026-06-01',
    ];
    for (const d of old) writeFileSync(join(dir, `quota_reset.${d}.1.log`), '{"old":true}\n');
    writeFileSync(join(dir, 'unrelated.log'), 'keep me\n');
    writeFileSync(join(dir, 'quota_reset.notes.txt'), 'keep me too\n');
    const logger = createLogger({
      file: join(dir, 'quota_reset.log'),
      frequency: 'daily',
      keep: 3,
      destination: { write: () => true } as unknown as NodeJS.WritableStream,
    });
    logger.info('monthly run');
    await flushLogger(logger);
    await sleep(100);
    expect(logFiles(dir)).toEqual([
      'quota_reset.2026-04-01.1.log',
      'quota_reset.2026-05-01.1.log',
      'quota_reset.2026-06-01.1.log',
      `quota_reset.${today()}.1.log`,
      'quota_reset.notes.txt',
    ]);
    expect(existsSync(join(dir, 'unrelated.log'))).toBe(true);
  });

  it('without dates (frequency none) numbered files are bounded too', () => {
    const dir = tempDir();
    for (let n = 1; n <= 5; n++) writeFileSync(join(dir, `app.${n}.log`), 'x');
    writeFileSync(join(dir, 'app.2026-01-01.1.log'), 'dated: another scheme, left alone');
    expect(
      pruneRotatedLogs(join(dir, 'app.log'), 'none', 2).map((p) => p.slice(dir.length + 1)),
    ).toEqual(['app.1.log', 'app.2.log', 'app.3.log']);
    expect(readdirSync(dir).sort()).toEqual(['app.2026-01-01.1.log', 'app.4.log', 'app.5.log']);
  });

  it('the CLI --log-file keeps the bound from log.keep across runs, and messages say where the log is', async () => {
    ensureBuilt();
    const dir = tempDir();
    writeFileSync(
      join(dir, 'quotaclock.config.json'),
      JSON.stringify({ log: { keep: 2, frequency: 'daily' } }),
    );
    mkdirSync(join(dir, 'logs'));
    for (const d of ['2026-07-01', '2026-08-01', '2026-09-01'])
      writeFileSync(join(dir, 'logs', `quota_reset.${d}.1.log`), '{}\n');
    await runCli(['init'], { cwd: dir });
    const r = await runCli(['reset', '--log-file', 'logs/quota_reset.log'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(logFiles(join(dir, 'logs'))).toEqual([
      'quota_reset.2026-08-01.1.log',
      'quota_reset.2026-09-01.1.log',
      `quota_reset.${today()}.1.log`,
    ]);
    expect(readFileSync(join(dir, 'logs', 'current.log'), 'utf8')).toContain(
      '"msg":"reset finished"',
    );

    const rx = await startReceiver();
    try {
      const qc = await seededClock(tempDir(), {
        notify: { retry: FAST_RETRY, events: ['reset.succeeded'], targets: [{ type: 'slack' }] },
      });
      qc.setNow('2026-11-01T00:05:00Z');
      const logger = createLogger({
        file: join(dir, 'logs', 'quota_reset.log'),
        keep: 2,
        frequency: 'daily',
        destination: { write: () => true } as unknown as NodeJS.WritableStream,
      });
      await runScheduledReset(qc, {
        logger,
        env: { SLACK_WEBHOOK_URL: `${rx.base}/services/log-test` },
      });
      await flushLogger(logger);
      await qc.close();
      const fields = JSON.parse(rx.requests[0]!.body).attachments[0].blocks[0].fields.map(
        (f: { text: string }) => f.text,
      );
      expect(fields).toContain(
        `*Log*\n${join(dir, 'logs', 'quota_reset.log')} (live file: ${join(dir, 'logs', 'current.log')})`,
      );
    } finally {
      await rx.close();
    }
  });
});
