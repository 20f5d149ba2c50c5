import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { hashSecret } from '../../src/auth/secrets.js';
import { createLogger } from '../../src/log/logger.js';
import { parseConsumeBody } from '../../src/server/consume-body.js';
import { LazyRequestLogger } from '../../src/server/lazy-request-logger.js';
import { ConsumeRequest } from '../../src/server/schemas.js';
import { parse } from '../../src/server/validate.js';
import { KeyInfoMemo } from '../../src/store/key-info-memo.js';
import type { ApiKeyRow } from '../../src/store/admin-mapping.js';

/** What parse(ConsumeRequest) answers: the value, or the refusal's code, field and message. */
function outcome(f: (b: unknown) => unknown, body: unknown): unknown {
  try {
    return { ok: JSON.stringify(f(body)) };
  } catch (e) {
    const err = e as { code?: string; where?: string; message: string };
    return { code: err.code, where: err.where, message: err.message };
  }
}

describe('POST /v1/consume body: the hand check answers as the zod schema', () => {
  const zod = (b: unknown) => parse(ConsumeRequest, b);
  const value = fc.oneof(
    fc.string({ maxLength: 3 }),
    fc.string({ minLength: 95, maxLength: 205 }),
    fc.constantFrom('', 'a'.repeat(100), 'a'.repeat(101), 'b'.repeat(200), 'b'.repeat(201)),
    fc.integer(),
    fc.constantFrom(0, -1, 1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e300),
    fc.constantFrom(null, true, [], {}, ['x'], { a: 1 }),
  );
  const body = fc.oneof(
    fc.record(
      { subject: value, feature: value, amount: value, key: value, meta: value, other: value },
      { requiredKeys: [] },
    ),
    fc.record({ subject: fc.string({ maxLength: 201 }), feature: fc.string({ maxLength: 101 }) }),
    fc.record(
      {
        subject: fc.string({ minLength: 1, maxLength: 200 }),
        feature: fc.string({ minLength: 1, maxLength: 100 }),
        amount: fc.oneof(fc.integer(), fc.double()),
      },
      { requiredKeys: ['subject', 'feature'] },
    ),
    fc.constantFrom(null, undefined, 'x', 1, [], [{ subject: 'a', feature: 'b' }]),
  );
  it('same value, same refusal, for any body', () => {
    fc.assert(
      fc.property(body, (b) => {
        expect(outcome(parseConsumeBody, b)).toEqual(outcome(zod, b));
      }),
      { numRuns: 3000 },
    );
  });
  it('same answer at every bound of the common body', () => {
    const amounts = [
      undefined,
      0,
      -1,
      1,
      1.5,
      '1',
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 1,
    ];
    for (const s of [0, 1, 200, 201])
      for (const f of [0, 1, 100, 101])
        for (const amount of amounts) {
          const b = { subject: 's'.repeat(s), feature: 'f'.repeat(f), amount };
          if (amount === undefined) delete b.amount;
          expect(outcome(parseConsumeBody, b)).toEqual(outcome(zod, b));
        }
  });
  it('the common body, with and without amount', () => {
    expect(parseConsumeBody({ subject: 's', feature: 'f' })).toEqual({
      subject: 's',
      feature: 'f',
      amount: 1,
    });
    expect(JSON.stringify(parseConsumeBody({ amount: 3, feature: 'f', subject: 's' }))).toBe(
      JSON.stringify(zod({ amount: 3, feature: 'f', subject: 's' })),
    );
  });
});

describe('hashSecret', () => {
  it('is the sha256 of the UTF-8 text, in hex', () => {
    for (const s of ['qc_abc', 'é🔑x', ''])
      expect(hashSecret(s)).toBe(createHash('sha256').update(s, 'utf8').digest('hex'));
  });
});

describe('KeyInfoMemo', () => {
  const row: ApiKeyRow = {
    id: 'key_1',
    name: 'bench',
    scopes: '["quota:write"]',
    prefix: 'qc_abcd',
    hash: 'ab'.repeat(32),
    created_ms: Date.parse('2026-12-01T00:00:00Z'),
    revoked_ms: null,
  };
  it('maps a row as toApiKeyInfo does, and reuses the mapping only for the same row', () => {
    const memo = new KeyInfoMemo();
    const a = memo.infoOf({ ...row });
    expect(a).toEqual({
      id: 'key_1',
      name: 'bench',
      scopes: ['quota:write'],
      prefix: 'qc_abcd',
      createdAt: '2026-12-01T00:00:00.000Z',
      revokedAt: null,
      hash: row.hash,
    });
    expect(memo.infoOf({ ...row })).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.scopes)).toBe(true);
  });
  it('a revoked row (or any changed field) is mapped afresh: a revocation is never hidden', () => {
    const memo = new KeyInfoMemo();
    memo.infoOf({ ...row });
    const revoked = memo.infoOf({ ...row, revoked_ms: Date.parse('2026-12-02T00:00:00Z') });
    expect(revoked.revokedAt).toBe('2026-12-02T00:00:00.000Z');
    expect(memo.infoOf({ ...row, scopes: '["quota:read"]' }).scopes).toEqual(['quota:read']);
    expect(memo.infoOf({ ...row, name: 'renamed' }).name).toBe('renamed');
  });
  it('stays bounded', () => {
    const memo = new KeyInfoMemo(4);
    for (let i = 0; i < 10; i++) memo.infoOf({ ...row, hash: String(i).repeat(64) });
    expect((memo as unknown as { byHash: Map<string, unknown> }).byHash.size).toBeLessThanOrEqual(
      4,
    );
  });
});

describe('LazyRequestLogger', () => {
  function sink() {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    return { lines, destination };
  }
  const strip = (line: string) => line.replace(/"time":"[^"]*",/, '');
  it('writes the line the eager child writes, hooks and redaction included', () => {
    const eager = sink();
    const lazy = sink();
    const a = createLogger({ destination: eager.destination });
    const b = createLogger({ destination: lazy.destination });
    const child = a.child({ reqId: 'req-1' }, {});
    const stand = new LazyRequestLogger(b, { reqId: 'req-1' }, {});
    for (const l of [child, stand]) {
      l.error(
        { err: new Error('boom'), route: '/v1/x', url: 'https://u:p@h/x' },
        'failed at https://a:b@host/',
      );
      l.warn('plain %s', 'text');
      l.debug('not written at info');
    }
    expect(lazy.lines.map(strip)).toEqual(eager.lines.map(strip));
    expect(lazy.lines).toHaveLength(2);
  });
  it('answers isLevelEnabled without making the child, as the parent would', () => {
    const parent = createLogger({ level: 'warn', destination: sink().destination });
    let made = 0;
    const counting = new Proxy(parent, {
      get(t, p, r) {
        if (p === 'child') made++;
        return Reflect.get(t, p, r) as unknown;
      },
    });
    const stand = new LazyRequestLogger(counting, { reqId: 'r' }, {});
    expect(stand.isLevelEnabled('info')).toBe(false);
    expect(stand.isLevelEnabled('error')).toBe(true);
    expect(stand.level).toBe('warn');
    expect(made).toBe(0);
    stand.error('x');
    expect(made).toBe(1);
  });
  it('a route level (opts.level) decides, as on the eager child', () => {
    const parent = createLogger({ level: 'info', destination: sink().destination });
    const stand = new LazyRequestLogger(parent, { reqId: 'r' }, { level: 'error' });
    expect(stand.isLevelEnabled('info')).toBe(false);
    expect(stand.level).toBe('error');
  });
});
