import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, seedKeys, startServe, type Answer } from '../helpers/serve.js';

describe('serve: failed logins, logs and secrets (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qc-serve-sec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('10 failed keys from one address in a minute → 429 RATE_LIMITED with Retry-After, even for a good key', async () => {
    const db = `sqlite:${join(dir, 'limit.db')}`;
    const { good } = await seedKeys(db, { good: ['quota:write'] });
    const served = await startServe(db);
    try {
      const body = { subject: 'a', feature: 'stock_reports' };
      for (let i = 0; i < 10; i++) {
        const r = await call(`${served.url}/v1/consume`, { key: `qck_guess${i}xxxxxxxx`, body });
        expect(r.status).toBe(401);
      }
      const limited = await call(`${served.url}/v1/consume`, { key: good, body });
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      const retry = Number(limited.headers.get('retry-after'));
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      // Unkeyed routes stay open, so probes keep working.
      expect((await call(`${served.url}/healthz`)).status).toBe(200);
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });

  it('one JSON log line per request (route, status, duration, key name); no key ever in a log line or an answer', async () => {
    const db = `sqlite:${join(dir, 'logs.db')}`;
    const keys = await seedKeys(db, {
      web: ['quota:write'],
      ops: ['admin:write'],
    });
    const served = await startServe(db);
    const answers: Answer[] = [];
    const record = async (p: Promise<Answer>) => answers.push(await p);
    let created = '';
    try {
      const u = served.url;
      await record(
        call(`${u}/v1/consume`, {
          key: keys.web,
          body: { subject: 'a', feature: 'stock_reports' },
        }),
      );
      await record(call(`${u}/v1/subjects/a`, { key: keys.web }));
      await record(call(`${u}/v1/admin/keys`, { key: keys.ops }));
      await record(call(`${u}/v1/admin/audit`, { key: keys.ops }));
      await record(
        call(`${u}/v1/consume`, {
          key: keys.ops,
          body: { subject: 'a', feature: 'stock_reports' },
        }),
      );
      await record(
        call(`${u}/v1/consume`, {
          key: `${keys.web}x`,
          body: { subject: 'a', feature: 'stock_reports' },
        }),
      );
      await record(
        call(`${u}/v1/consume`, {
          headers: { authorization: keys.web },
          body: { subject: 'a', feature: 'stock_reports' },
        }),
      );
      await record(call(`${u}/metrics`));
      await record(call(`${u}/openapi.json`));
      const made = await call<{ key: string }>(`${u}/v1/admin/keys`, {
        key: keys.ops,
        body: { name: 'made', scopes: ['quota:read'] },
      });
      expect(made.status).toBe(201);
      created = made.body.key;
      await record(call(`${u}/v1/subjects/a`, { key: created }));
      await record(call(`${u}/v1/admin/keys`, { key: keys.ops }));
      await record(call(`${u}/v1/admin/audit`, { key: keys.ops }));
    } finally {
      expect(await served.stop()).toBe(0);
    }
    const secrets = [keys.web!, keys.ops!, created];
    const log = served.log() + served.stdout();
    for (const s of secrets) {
      expect(log.includes(s)).toBe(false);
      // Nor the random part alone (a key logged without its qck_ prefix).
      expect(log.includes(s.slice(4))).toBe(false);
      for (const a of answers) expect(a.text.includes(s.slice(4))).toBe(false);
    }
    const lines = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(answers.length + 1);
    expect(lines[0]).toMatchObject({
      method: 'POST',
      route: '/v1/consume',
      status: 200,
      key: 'web',
    });
    expect(typeof lines[0]!.durationMs).toBe('number');
    expect(lines[2]).toMatchObject({ route: '/v1/admin/keys', status: 200, key: 'ops' });
    expect(lines[4]).toMatchObject({ route: '/v1/consume', status: 403, key: 'ops' });
    expect(lines[5]).toMatchObject({ route: '/v1/consume', status: 401 });
    expect(lines[5]!.key).toBeUndefined();
    for (const l of lines) expect(Object.keys(l)).not.toContain('headers');
  });

  it('503 STORE_UNAVAILABLE with Retry-After when the store is down; /readyz says so; /healthz stays up', async () => {
    // Nothing listens on port 1: every store call fails to connect.
    const served = await startServe('postgres://postgres@127.0.0.1:1/test');
    try {
      const ready = await call(`${served.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(ready.headers.get('retry-after')).toBe('1');
      const consume = await call(`${served.url}/v1/consume`, {
        key: 'qck_whateverwhateverwhatever',
        body: { subject: 'a', feature: 'stock_reports' },
      });
      expect(consume.status).toBe(503);
      expect(consume.body).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 });
      expect(consume.headers.get('retry-after')).toBe('1');
      expect((await call(`${served.url}/healthz`)).status).toBe(200);
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });
});
