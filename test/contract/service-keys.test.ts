import { expect, it } from 'vitest';
import { contract } from './engines.js';

contract('API keys and sessions', ({ useStore }) => {
  const ctx = useStore();

  it('creates a key shown once, stores only its hash and prefix, and lists it without the key', async () => {
    const { qc } = ctx;
    const made = await qc.keys.create({ name: 'web', scopes: ['quota:write', 'quota:read'] });
    expect(made.key).toMatch(/^qck_[A-Za-z0-9_-]{43}$/);
    expect(made).toMatchObject({
      name: 'web',
      scopes: ['quota:write', 'quota:read'],
      prefix: made.key.slice(0, 12),
      revokedAt: null,
    });
    expect(made.id).toMatch(/^key_[0-9a-f]{16}$/);
    const listed = await qc.keys.list();
    const mine = listed.find((k) => k.id === made.id)!;
    expect(mine).toEqual({
      id: made.id,
      name: 'web',
      scopes: ['quota:write', 'quota:read'],
      prefix: made.prefix,
      createdAt: made.createdAt,
      revokedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(made.key);
    // The store has no copy of the key anywhere it can be read back from.
    expect(JSON.stringify(await ctx.store.apiKeyByHash('0'.repeat(64)))).toBe('null');
    const stored = await ctx.store.apiKeyByHash(
      (await import('../../src/auth/secrets.js')).hashSecret(made.key),
    );
    expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(made.key.slice(12));
  });

  it('authenticates the key, and refuses a wrong, altered or malformed one', async () => {
    const { qc } = ctx;
    const made = await qc.keys.create({ name: 'auth', scopes: ['admin:read'] });
    expect(await qc.keys.authenticate(made.key)).toMatchObject({ id: made.id, name: 'auth' });
    const altered = made.key.slice(0, -1) + (made.key.endsWith('A') ? 'B' : 'A');
    expect(await qc.keys.authenticate(altered)).toBeNull();
    expect(await qc.keys.authenticate('qck_nope')).toBeNull();
    expect(await qc.keys.authenticate('')).toBeNull();
    expect(await qc.keys.authenticate(made.key + ' ')).toBeNull();
  });

  it('revokes by id or by prefix, at once for another client of the same store, audited once', async () => {
    const { qc } = ctx;
    const a = await qc.keys.create({ name: 'rev-a', scopes: ['quota:read'] });
    const b = await qc.keys.create({ name: 'rev-b', scopes: ['quota:read'] });
    // Another process: its own store connection, no shared memory.
    const other = await ctx.another();
    const { createQuotaClock } = await import('../../src/quotaclock.js');
    const qc2 = createQuotaClock({ config: qc.config, store: other });
    expect(await qc2.keys.authenticate(a.key)).not.toBeNull();
    const revoked = await qc.keys.revoke(a.id, { actor: 'admin-key' });
    expect(revoked.revokedAt).not.toBeNull();
    expect(await qc2.keys.authenticate(a.key)).toBeNull();
    expect(await qc.keys.authenticate(a.key)).toBeNull();
    // A second revoke keeps the first instant.
    expect((await qc.keys.revoke(a.id)).revokedAt).toBe(revoked.revokedAt);
    await qc.keys.revoke(b.prefix);
    expect(await qc2.keys.authenticate(b.key)).toBeNull();
    await expect(qc.keys.revoke('key_doesnotexist')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const audit = await qc.audit.list({ limit: 100 });
    const revokes = audit.items.filter((e) => e.action === 'key.revoke');
    expect(revokes.map((e) => (e.after as { id: string }).id).sort()).toEqual([a.id, b.id].sort());
    const entryA = revokes.find((e) => (e.after as { id: string }).id === a.id)!;
    expect(entryA.actor).toBe('admin-key');
    expect(entryA.before).toMatchObject({ id: a.id, revokedAt: null });
    expect(entryA.after).toMatchObject({ id: a.id, revokedAt: revoked.revokedAt });
    expect(JSON.stringify(audit)).not.toContain(a.key);
  });

  it('refuses bad names and scopes, writing nothing', async () => {
    const { qc } = ctx;
    const before = (await qc.keys.list()).length;
    await expect(qc.keys.create({ name: 'x', scopes: ['root'] })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      where: 'scopes',
    });
    await expect(qc.keys.create({ name: 'x', scopes: [] })).rejects.toMatchObject({
      where: 'scopes',
    });
    await expect(qc.keys.create({ name: '', scopes: ['quota:read'] })).rejects.toMatchObject({
      where: 'name',
    });
    expect((await qc.keys.list()).length).toBe(before);
  });

  it('sessions: found while live, gone when expired, destroyed, or their key revoked', async () => {
    const { qc, store } = ctx;
    const key = await qc.keys.create({ name: 'dash', scopes: ['admin:write'] });
    const s = await qc.sessions.create(key.id, 60_000);
    expect(s.token.length).toBeGreaterThanOrEqual(43);
    const found = await qc.sessions.lookup(s.token);
    expect(found).toMatchObject({ key: { id: key.id, name: 'dash' }, expiresAt: s.expiresAt });
    expect(await qc.sessions.lookup(s.token + 'x')).toBeNull();
    // Expiry is the store's decision at the instant asked.
    const { hashSecret } = await import('../../src/auth/secrets.js');
    const exp = Date.parse(s.expiresAt);
    expect(await store.lookupSession(hashSecret(s.token), exp - 1)).not.toBeNull();
    expect(await store.lookupSession(hashSecret(s.token), exp)).toBeNull();
    const s2 = await qc.sessions.create(key.id, 60_000);
    await qc.sessions.destroy(s2.token);
    expect(await qc.sessions.lookup(s2.token)).toBeNull();
    const s3 = await qc.sessions.create(key.id, 60_000);
    await qc.keys.revoke(key.id);
    expect(await qc.sessions.lookup(s3.token)).toBeNull();
    await expect(qc.sessions.create(key.id, 60_000)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
