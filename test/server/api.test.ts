import { expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/core/errors.js';
import { contract } from '../contract/engines.js';
import { call } from '../helpers/serve.js';
import { useServe } from './serve-fixture.js';

const expectProblem = (
  r: { status: number; headers: Headers; body: unknown },
  code: ErrorCode,
  where?: string,
) => {
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ code, status: ERROR_CODES[code].http });
  expect(r.status).toBe(ERROR_CODES[code].http);
  const p = r.body as Record<string, unknown>;
  for (const f of ['type', 'title', 'detail']) expect(typeof p[f]).toBe('string');
  if (where !== undefined) expect(p.where).toBe(where);
};

contract('HTTP API /v1', ({ engine }) => {
  const fx = useServe(engine);
  const post = (path: string, body: unknown, key = fx.keys.writer, headers = {}) =>
    call(`${fx.url}${path}`, { body, key, headers });

  it('consume: 200 granted or not, with draft-10 RateLimit headers; check writes nothing', async () => {
    const first = await post('/v1/consume', {
      subject: 'alice',
      feature: 'stock_reports',
      amount: 3,
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      subject: 'alice',
      feature: 'stock_reports',
      granted: true,
      used: 3,
      limit: 10,
      remaining: 7,
    });
    const period = first.body.period as { start: string; end: string };
    const w = Math.round((Date.parse(period.end) - Date.parse(period.start)) / 1000);
    expect(first.headers.get('ratelimit-policy')).toBe(`"stock_reports";q=10;w=${w}`);
    const m = /^"stock_reports";r=7;t=(\d+)$/.exec(first.headers.get('ratelimit') ?? '');
    expect(m).not.toBeNull();
    const t = Number(m![1]);
    // The body carries the zone and the seconds left, the same number as the header's t.
    expect(first.body).toMatchObject({ timeZone: 'UTC', secondsLeft: t });
    const left = (Date.parse(period.end) - Date.now()) / 1000;
    expect(t).toBeGreaterThanOrEqual(Math.floor(left) - 5);
    expect(t).toBeLessThanOrEqual(Math.ceil(left) + 1);

    const check = await post(
      '/v1/check',
      { subject: 'alice', feature: 'stock_reports', amount: 8 },
      fx.keys.reader,
    );
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({
      allowed: false,
      reason: 'quota_exceeded',
      used: 3,
      remaining: 7,
    });
    expect(check.body.period).toEqual(first.body.period);
    expect(check.body.timeZone).toBe('UTC');
    expect(check.headers.get('ratelimit')).toBe(
      `"stock_reports";r=7;t=${check.body.secondsLeft as number}`,
    );

    const denied = await post('/v1/consume', {
      subject: 'alice',
      feature: 'stock_reports',
      amount: 8,
    });
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({ granted: false, reason: 'quota_exceeded', used: 3 });
    expect((await fx.qc.status('alice')).features.stock_reports!.used).toBe(3);
  });

  it('an unlimited feature carries no RateLimit headers', async () => {
    await fx.qc.addSubject({ id: 'ent', plan: 'enterprise' });
    const r = await post('/v1/consume', { subject: 'ent', feature: 'stock_reports' });
    expect(r.body).toMatchObject({ granted: true, limit: null, remaining: null });
    expect(r.headers.get('ratelimit')).toBeNull();
    expect(r.headers.get('ratelimit-policy')).toBeNull();
  });

  it('idempotency: header or body key, raw or sf-string; replay = first body + replayed; other body 422', async () => {
    const body = { subject: 'idem', feature: 'stock_reports', amount: 2, meta: { ticker: 'AAPL' } };
    const first = await post('/v1/consume', body, fx.keys.writer, { 'Idempotency-Key': 'k-1' });
    expect(first.body).toMatchObject({ granted: true, used: 2 });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    await post('/v1/consume', { subject: 'idem', feature: 'stock_reports' }); // moves the counter on
    for (const replay of [
      await post('/v1/consume', body, fx.keys.writer, { 'Idempotency-Key': '"k-1"' }),
      await post('/v1/consume', { ...body, key: 'k-1' }),
      await post('/v1/consume', {
        meta: { ticker: 'AAPL' },
        amount: 2,
        feature: 'stock_reports',
        subject: 'idem',
        key: 'k-1',
      }),
    ]) {
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual({ ...first.body, replayed: true });
    }
    const reused = await post('/v1/consume', { ...body, amount: 3, key: 'k-1' });
    expectProblem(reused, 'IDEMPOTENCY_KEY_REUSED');
    const differ = await post('/v1/consume', { ...body, key: 'k-2' }, fx.keys.writer, {
      'Idempotency-Key': 'k-3',
    });
    expectProblem(differ, 'BAD_INPUT', 'Idempotency-Key');
    // Keys are scoped to their subject: the same key on another subject is a new consume.
    const other = await post('/v1/consume', { ...body, subject: 'idem2', key: 'k-1' });
    expect(other.body).toMatchObject({ granted: true, used: 2 });
    expect(other.body.replayed).toBeUndefined();
    expect((await fx.qc.status('idem')).features.stock_reports!.used).toBe(3);
    const events = await fx.qc.subjectEvents('idem');
    expect(events.items.filter((e) => e.kind === 'consume')).toHaveLength(2);
  });

  it('refund by key (body or header); an unknown key is 404 REFUND_KEY_NOT_FOUND', async () => {
    await post('/v1/consume', { subject: 'ref', feature: 'stock_reports', amount: 4, key: 'r1' });
    const r = await post('/v1/refund', { subject: 'ref' }, fx.keys.writer, {
      'Idempotency-Key': 'r1',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ refunded: true, amount: 4, used: 0 });
    const again = await post('/v1/refund', { subject: 'ref', key: 'r1' });
    expect(again.body).toMatchObject({ amount: 0 });
    expectProblem(
      await post('/v1/refund', { subject: 'ref', key: 'nope' }),
      'REFUND_KEY_NOT_FOUND',
      'key',
    );
    expectProblem(await post('/v1/refund', { subject: 'ref' }), 'BAD_INPUT', 'key');
  });

  it('batch: in order, each item alone, a bad item gets its own problem; more than 100 is 400', async () => {
    const r = await post('/v1/batch', {
      items: [
        { op: 'consume', subject: 'bat', feature: 'stock_reports', amount: 2, key: 'b1' },
        { op: 'consume', subject: 'bat', feature: 'nope' },
        { op: 'check', subject: 'bat', feature: 'stock_reports', amount: 9 },
        { op: 'consume', subject: 'bat', feature: 'stock_reports', amount: 2, key: 'b1' },
        { op: 'refund', subject: 'bat', key: 'b1' },
        { op: 'launch', subject: 'bat' },
        { op: 'consume', subject: 'bat', feature: 'stock_reports', amount: 0 },
      ],
    });
    expect(r.status).toBe(200);
    const results = r.body.results as Record<string, unknown>[];
    expect(results).toHaveLength(7);
    expect(results[0]).toMatchObject({ subject: 'bat', granted: true, used: 2 });
    expect(results[1]).toMatchObject({ code: 'UNKNOWN_FEATURE', status: 400 });
    expect(results[2]).toMatchObject({ allowed: false, used: 2 });
    expect(results[3]).toMatchObject({ granted: true, used: 2, replayed: true });
    expect(results[4]).toMatchObject({ refunded: true, amount: 2 });
    for (const i of [0, 2, 3, 4])
      expect(results[i]).toMatchObject({ timeZone: 'UTC', secondsLeft: expect.any(Number) });
    expect(results[5]).toMatchObject({ code: 'BAD_INPUT', status: 400 });
    expect(results[6]).toMatchObject({ code: 'INVALID_AMOUNT', where: 'items.6.amount' });
    const tooMany = await post('/v1/batch', {
      items: Array.from({ length: 101 }, () => ({
        op: 'check',
        subject: 'bat',
        feature: 'stock_reports',
      })),
    });
    expectProblem(tooMany, 'BAD_INPUT', 'items');
  });

  it('GET subjects/{id}: the status; unknown is 404 and reading creates nothing', async () => {
    const ok = await call(`${fx.url}/v1/subjects/alice`, { key: fx.keys.reader });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      subject: 'alice',
      plan: 'free',
      features: { stock_reports: { used: 3 } },
      timeZone: 'UTC',
      secondsLeft: expect.any(Number),
    });
    expectProblem(
      await call(`${fx.url}/v1/subjects/ghost`, { key: fx.keys.reader }),
      'SUBJECT_NOT_FOUND',
    );
    expectProblem(
      await call(`${fx.url}/v1/subjects/ghost/history`, { key: fx.keys.reader }),
      'SUBJECT_NOT_FOUND',
    );
    await post('/v1/check', { subject: 'ghost', feature: 'stock_reports' }, fx.keys.reader);
    await expect(fx.qc.getSubject('ghost')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });

  it('GET subjects/{id}/history: a bare array, newest first, ?limit', async () => {
    const r = await call<Array<{ start: string }>>(`${fx.url}/v1/subjects/alice/history?limit=5`, {
      key: fx.keys.reader,
    });
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body)).toBe(true);
    const starts = r.body.map((e) => e.start);
    expect(starts).toEqual([...starts].sort().reverse());
    expectProblem(
      await call(`${fx.url}/v1/subjects/alice/history?limit=0`, { key: fx.keys.reader }),
      'BAD_INPUT',
      'limit',
    );
  });

  it('auth: no key, a wrong key, a revoked key are 401; the wrong scope is 403', async () => {
    const body = { subject: 'auth', feature: 'stock_reports' };
    expectProblem(await call(`${fx.url}/v1/consume`, { body }), 'UNAUTHENTICATED', 'Authorization');
    expectProblem(
      await post('/v1/consume', body, 'qck_wrongwrongwrongwrongwrong'),
      'UNAUTHENTICATED',
    );
    expectProblem(await post('/v1/consume', body, fx.keys.revoked), 'UNAUTHENTICATED');
    expectProblem(await post('/v1/consume', body, fx.keys.reader), 'FORBIDDEN');
    expectProblem(await post('/v1/consume', body, fx.keys.admin), 'FORBIDDEN');
    expectProblem(await call(`${fx.url}/v1/admin/keys`, { key: fx.keys.writer }), 'FORBIDDEN');
    expectProblem(
      await call(`${fx.url}/v1/admin/subjects`, { key: fx.keys.auditor, body: { id: 'x' } }),
      'FORBIDDEN',
    );
    await expect(fx.qc.getSubject('auth')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
    await expect(fx.qc.getSubject('x')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
  });

  it('the body limit is exactly 64 KiB, and only JSON is taken', async () => {
    const base = JSON.stringify({ subject: 'big', feature: 'stock_reports' });
    // meta is capped at 16 KiB by the library, so a full-size valid body is whitespace-padded.
    const exact = `${base}${' '.repeat(65_536 - base.length)}`;
    expect(Buffer.byteLength(exact)).toBe(65_536);
    const empty = await call(`${fx.url}/v1/consume`, {
      method: 'POST',
      key: fx.keys.writer,
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(empty, 'BAD_INPUT', 'body');
    const accepted = await call(`${fx.url}/v1/consume`, {
      key: fx.keys.writer,
      raw: exact,
      headers: { 'content-type': 'application/json' },
    });
    expect(accepted.status).toBe(200);
    const over = await call(`${fx.url}/v1/consume`, {
      key: fx.keys.writer,
      raw: `${exact} `,
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(over, 'PAYLOAD_TOO_LARGE');
    expectProblem(
      await call(`${fx.url}/v1/consume`, {
        key: fx.keys.writer,
        raw: base,
        headers: { 'content-type': 'text/plain' },
      }),
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect((await fx.qc.status('big')).features.stock_reports!.used).toBe(1);
  });
});
