import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/core/errors.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { startSmtp, tempDir, type Smtp } from './helpers.js';

const SMTP_PASSWORD = 'Smtp-Secret-Pw-4417';
const HMAC_KEY = 'hmac-key-7f3e9a1b5c2d';
const SLACK_PATH = '/services/T01SECRET/B02SECRET/xoxbSlackToken5566';
const HOOK_PATH = '/private-hook/4d2f6a90c1e8?token=webhookToken8899';

describe('config refuses inline secrets by path, without echoing them', () => {
  const cases: Array<[string, unknown, string]> = [
    [
      'notify.targets.0.url',
      {
        targets: [{ type: 'slack', url: 'https://hooks.slack.com/services/T/B/inlineSlackSecret' }],
      },
      'inlineSlackSecret',
    ],
    [
      'notify.targets.0.secret',
      { targets: [{ type: 'webhook', url: { env: 'X' }, secret: 'inline-hmac-secret' }] },
      'inline-hmac-secret',
    ],
    [
      'notify.targets.0.smtp.password',
      {
        targets: [
          {
            type: 'email',
            from: 'a@b.c',
            to: ['d@e.f'],
            smtp: { host: 'mail', password: 'inline-smtp-pw' },
          },
        ],
      },
      'inline-smtp-pw',
    ],
    [
      'notify.targets.0.smtp.url',
      {
        targets: [
          { type: 'email', from: 'a@b.c', to: ['d@e.f'], smtp: { url: 'smtp://u:inlinepw9@mail' } },
        ],
      },
      'inlinepw9',
    ],
    [
      'notify.heartbeat.url',
      { heartbeat: { url: 'https://hc-ping.com/inline-uuid-1234' } },
      'inline-uuid-1234',
    ],
  ];
  for (const [path, notify, secret] of cases) {
    it(path, () => {
      let err: unknown;
      try {
        parseConfig({ notify });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).toContain(
        `${path}: secrets must not be written inline in the config file; use {"env": "NAME"} or {"file": "/path/to/secret"}`,
      );
      expect(message).not.toContain(secret);
      expect(JSON.stringify((err as ConfigError).toJSON())).not.toContain(secret);
    });
  }
  it('a reference must name exactly one source', () => {
    expect(() =>
      parseConfig({ notify: { targets: [{ type: 'slack', url: { env: 'A', file: '/b' } }] } }),
    ).toThrow(/notify\.targets\.0\.url: expected exactly one of "env" or "file"/);
  });
});

describe('no secret appears in any log line, output or error of the CLI', () => {
  let smtp: Smtp;
  let echo: Server;
  let echoBase: string;
  beforeAll(async () => {
    ensureBuilt();
    smtp = await startSmtp({ user: 'bot', pass: 'the-real-password-is-different' });
    // A hostile receiver: fails, and echoes the request path and headers back in its error body.
    echo = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(
          `cannot handle ${req.url} signed ${String(req.headers['x-quotaclock-signature'])} body ${body.slice(0, 50)}`,
        );
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoBase = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await smtp.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('reset, notify test, verify, report --send and metrics, with every target failing', async () => {
    const dir = tempDir('qc-secrets-');
    const secretFile = join(dir, 'hmac.key');
    writeFileSync(secretFile, `${HMAC_KEY}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'quotaclock.config.json'),
      JSON.stringify({
        store: 'sqlite:q.db',
        log: { file: 'logs/quota_reset.log', level: 'debug' },
        notify: {
          retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
          events: [
            'reset.succeeded',
            'reset.failed',
            'reset.partial',
            'verify.failed',
            'quota.threshold',
          ],
          targets: [
            {
              type: 'email',
              from: 'qc@example.com',
              to: ['ops@example.com'],
              smtp: { host: '127.0.0.1', port: smtp.port, user: 'bot', caFile: smtp.caFile },
            },
            { type: 'slack' },
            { type: 'webhook', secret: { file: secretFile } },
          ],
          heartbeat: { url: { env: 'QUOTACLOCK_HEARTBEAT_URL' }, attempts: 1 },
        },
      }),
    );
    const env = {
      SMTP_PASSWORD,
      SLACK_WEBHOOK_URL: `${echoBase}${SLACK_PATH}`,
      QUOTACLOCK_WEBHOOK_URL: `${echoBase}${HOOK_PATH}`,
      QUOTACLOCK_HEARTBEAT_URL: `${echoBase}/ping/5b9c2e71-hb-uuid-secret`,
    };
    const outputs: string[] = [];
    const cli = async (...args: string[]) => {
      const r = await runCli(args, { cwd: dir, env });
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    await cli('init');
    await cli('users', 'add', 'alice', '--plan', 'free', '--now', '2026-10-02T00:00:00Z');
    for (let i = 0; i < 9; i++)
      await cli('consume', 'alice', 'stock_reports', '--now', '2026-10-03T00:00:00Z');
    const reset = await cli('reset', '--now', '2026-11-01T00:05:00Z');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('2026-10: closed 1 subject(s)');
    expect(reset.stdout).toMatch(/notification to email FAILED/);
    expect(reset.stdout).toMatch(
      /notification to slack FAILED after 2 attempt\(s\): slack: HTTP 500/,
    );
    const again = await cli('reset', '--json', '--now', '2026-11-01T00:06:00Z');
    expect(again.code).toBe(0);
    const test = await cli('notify', 'test');
    expect(test.code).toBe(1);
    expect(test.stdout).toMatch(/4 of 4 target\(s\) failed/);
    await cli('notify', 'test', '--json');
    await cli('verify', '--json');
    const report = await cli(
      'report',
      '--period',
      '2026-10',
      '--send',
      '--now',
      '2026-11-02T00:00:00Z',
    );
    expect(report.code).toBe(1);
    await cli('metrics');
    // A config with an inline secret fails with its path and without its value.
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ notify: { targets: [{ type: 'slack', url: `${echoBase}${SLACK_PATH}` }] } }),
    );
    const bad = await cli('plans', '--config', 'bad.json', '--json');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('notify.targets.0.url: secrets must not be written inline');

    const logs = readdirSync(join(dir, 'logs')).map((f) =>
      readFileSync(join(dir, 'logs', f), 'utf8'),
    );
    expect(logs.join('')).toMatch(/notification to slack failed after 2 attempt/);
    const everything = [...outputs, ...logs].join('\n');
    expect(everything).toContain('[redacted]');
    for (const secret of [
      SMTP_PASSWORD,
      HMAC_KEY,
      SLACK_PATH,
      'xoxbSlackToken5566',
      'T01SECRET',
      HOOK_PATH,
      'webhookToken8899',
      '4d2f6a90c1e8',
      '5b9c2e71-hb-uuid-secret',
    ]) {
      expect(everything, `secret ${secret} leaked`).not.toContain(secret);
    }
  });
});
