import { expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/core/errors.js';
import { contract } from '../contract/engines.js';
import { call } from '../helpers/serve.js';
import { useServe } from './serve-fixture.js';

const json = { 'content-type': 'application/json' };
const ok = { subject: 'victim', feature: 'stock_reports' };

/** [what, path, raw body, expected code]. Every one must be a 4xx problem, and write nothing. */
const CORPUS: Array<[string, string, string, ErrorCode]> = [
  ['malformed JSON', '/v1/consume', '{"subject": "victim", ', 'BAD_INPUT'],
  ['not an object', '/v1/consume', '[1,2,3]', 'BAD_INPUT'],
  ['a bare string', '/v1/consume', '"consume"', 'BAD_INPUT'],
  ['null', '/v1/consume', 'null', 'BAD_INPUT'],
  ['subject a number', '/v1/consume', JSON.stringify({ ...ok, subject: 42 }), 'BAD_INPUT'],
  [
    'feature an array',
    '/v1/consume',
    JSON.stringify({ ...ok, feature: ['stock_reports'] }),
    'BAD_INPUT',
  ],
  ['meta a string', '/v1/consume', JSON.stringify({ ...ok, meta: 'x' }), 'BAD_INPUT'],
  ['key a number', '/v1/consume', JSON.stringify({ ...ok, key: 7 }), 'BAD_INPUT'],
  ['an unknown field', '/v1/consume', JSON.stringify({ ...ok, amout: 2 }), 'BAD_INPUT'],
  ['amount 0', '/v1/consume', JSON.stringify({ ...ok, amount: 0 }), 'INVALID_AMOUNT'],
  ['amount -1', '/v1/consume', JSON.stringify({ ...ok, amount: -1 }), 'INVALID_AMOUNT'],
  ['amount 1.5', '/v1/consume', JSON.stringify({ ...ok, amount: 1.5 }), 'INVALID_AMOUNT'],
  [
    'amount 1e309',
    '/v1/consume',
    '{"subject":"victim","feature":"stock_reports","amount":1e309}',
    'INVALID_AMOUNT',
  ],
  ['amount "1"', '/v1/consume', JSON.stringify({ ...ok, amount: '1' }), 'INVALID_AMOUNT'],
  ['amount 2^53', '/v1/consume', JSON.stringify({ ...ok, amount: 2 ** 53 }), 'INVALID_AMOUNT'],
  [
    'an unknown feature',
    '/v1/consume',
    JSON.stringify({ ...ok, feature: 'rocket_launches' }),
    'UNKNOWN_FEATURE',
  ],
  [
    'a 10 KB id',
    '/v1/consume',
    JSON.stringify({ ...ok, subject: 'a'.repeat(10_240) }),
    'BAD_INPUT',
  ],
  [
    'control characters in the id',
    '/v1/consume',
    JSON.stringify({ ...ok, subject: 'vic\u0000tim\u001b' }),
    'BAD_INPUT',
  ],
  [
    'a newline in the id',
    '/v1/consume',
    JSON.stringify({ ...ok, subject: 'victim\nadmin' }),
    'BAD_INPUT',
  ],
  [
    'control characters in the key',
    '/v1/consume',
    JSON.stringify({ ...ok, key: 'k\u0007' }),
    'BAD_INPUT',
  ],
  [
    'a __proto__ key',
    '/v1/consume',
    '{"subject":"victim","feature":"stock_reports","__proto__":{"admin":true}}',
    'BAD_INPUT',
  ],
  [
    'a nested __proto__',
    '/v1/consume',
    '{"subject":"victim","feature":"stock_reports","meta":{"__proto__":{"x":1}}}',
    'BAD_INPUT',
  ],
  [
    'constructor.prototype',
    '/v1/consume',
    '{"subject":"victim","feature":"stock_reports","meta":{"constructor":{"prototype":{"x":1}}}}',
    'BAD_INPUT',
  ],
  [
    'a 1 MiB body',
    '/v1/consume',
    JSON.stringify({ ...ok, meta: { pad: 'x'.repeat(1 << 20) } }),
    'PAYLOAD_TOO_LARGE',
  ],
  [
    'a reserved refund key',
    '/v1/consume',
    JSON.stringify({ ...ok, key: 'refund:abc' }),
    'BAD_INPUT',
  ],
  ['check with amount 0', '/v1/check', JSON.stringify({ ...ok, amount: 0 }), 'INVALID_AMOUNT'],
  ['refund with no key', '/v1/refund', JSON.stringify({ subject: 'victim' }), 'BAD_INPUT'],
  ['batch not an array', '/v1/batch', JSON.stringify({ items: 'all' }), 'BAD_INPUT'],
  [
    'batch of 101',
    '/v1/batch',
    JSON.stringify({ items: Array.from({ length: 101 }, () => ({ op: 'consume', ...ok })) }),
    'BAD_INPUT',
  ],
  ['batch empty', '/v1/batch', JSON.stringify({ items: [] }), 'BAD_INPUT'],
];

contract('the bad-request corpus', ({ engine }) => {
  const fx = useServe(engine);

  /** Everything a write could touch: subjects, their events and the audit log. */
  const snapshot = async () => {
    const subjects = (await fx.qc.listSubjects({ limit: 1000 })).items.map((s) => s.id);
    const events = await Promise.all(
      subjects.map(async (id) => (await fx.qc.subjectEvents(id, { limit: 1000 })).items.length),
    );
    const audit = (await fx.qc.audit.list({ limit: 1000 })).items.length;
    return { subjects, events, audit };
  };

  it('every item is a 4xx problem+json with its code, and nothing is written', async () => {
    // victim exists and has usage, so a stray write would show.
    await call(`${fx.url}/v1/consume`, { key: fx.keys.writer, body: { ...ok, key: 'seed' } });
    const before = await snapshot();
    expect(before.subjects).toEqual(['victim']);
    for (const [what, path, raw, code] of CORPUS) {
      const r = await call(`${fx.url}${path}`, { key: fx.keys.writer, raw, headers: json });
      expect({ what, status: r.status, code: (r.body as { code?: string }).code }).toEqual({
        what,
        status: ERROR_CODES[code].http,
        code,
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(({}.constructor.prototype as Record<string, unknown>).admin).toBeUndefined();
    }
    // Other content types, and headers that do not parse.
    const others: Array<[Record<string, string>, string, ErrorCode]> = [
      [{ 'content-type': 'text/plain' }, JSON.stringify(ok), 'UNSUPPORTED_MEDIA_TYPE'],
      [
        { 'content-type': 'application/x-www-form-urlencoded' },
        'subject=victim',
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x--', 'UNSUPPORTED_MEDIA_TYPE'],
      [{ ...json, 'idempotency-key': '"unterminated' }, JSON.stringify(ok), 'BAD_INPUT'],
      [{ ...json, 'idempotency-key': 'a' }, JSON.stringify({ ...ok, key: 'b' }), 'BAD_INPUT'],
    ];
    for (const [headers, raw, code] of others) {
      const r = await call(`${fx.url}/v1/consume`, { key: fx.keys.writer, raw, headers });
      expect({ headers, code: (r.body as { code?: string }).code }).toEqual({ headers, code });
    }
    // Admin writes refused as bad input change nothing either.
    const admin = async (method: string, path: string, body: unknown) =>
      call(`${fx.url}/v1/admin${path}`, { method, key: fx.keys.admin, body });
    for (const [method, path, body] of [
      ['PATCH', '/subjects/victim', { plan: 'platinum' }],
      ['PATCH', '/subjects/victim', { overrides: { rockets: 5 } }],
      ['PATCH', '/subjects/victim', { overrides: { stock_reports: -5 } }],
      ['PATCH', '/subjects/victim', { timeZone: 'Mars/Olympus' }],
      ['POST', '/subjects', { id: 'new\u0000one' }],
      ['POST', '/subjects', { id: 'newone', plan: 'platinum' }],
      ['POST', '/subjects/victim/reset', {}],
      ['POST', '/keys', { name: 'k', scopes: ['root'] }],
    ] as const) {
      const r = await admin(method, path, body);
      expect({ path, body, status: r.status }).toMatchObject({ path, body });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect(await snapshot()).toEqual(before);
    expect((await fx.qc.keys.list()).map((k) => k.name).sort()).toEqual([
      'admin',
      'auditor',
      'reader',
      'revoked',
      'writer',
    ]);
  });
});
