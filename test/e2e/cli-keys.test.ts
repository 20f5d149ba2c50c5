import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import { call, startServe } from '../helpers/serve.js';

beforeAll(() => ensureBuilt());

describe('quotaclock keys and audit', () => {
  const cwd = tempDir();
  const log = join(cwd, 'qc.log');
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));
  // These commands may log nothing at all; whatever they log must not hold a key.
  const logText = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  const cli = (...args: string[]) =>
    runCli([...args, '--log-file', log, '--log-level', 'trace'], { cwd });

  it('creates a key printed once, lists and revokes it, and never logs it', async () => {
    expect((await cli('init')).code).toBe(0);
    const made = await cli(
      'keys',
      'create',
      '--name',
      'web',
      '--scope',
      'quota:write',
      '--scope',
      'admin:read',
      '--json',
    );
    expect(made.code).toBe(0);
    const k = JSON.parse(made.stdout) as Record<string, unknown>;
    expect(Object.keys(k).sort()).toEqual(['createdAt', 'id', 'key', 'name', 'prefix', 'scopes']);
    expect(k).toMatchObject({ name: 'web', scopes: ['quota:write', 'admin:read'] });
    const key = String(k.key);
    expect(key).toMatch(/^qck_[A-Za-z0-9_-]{43}$/);
    expect(k.prefix).toBe(key.slice(0, 12));

    const text = await cli('keys', 'create', '--name', 'ops', '--scope', 'admin:write');
    expect(text.code).toBe(0);
    const opsKey = text.stdout.match(/qck_[A-Za-z0-9_-]{43}/)![0];

    const list = await cli('keys', 'list', '--json');
    expect(list.code).toBe(0);
    const keys = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(keys.map((x) => x.name).sort()).toEqual(['ops', 'web']);
    expect(keys.every((x) => !('key' in x))).toBe(true);
    const plain = await cli('keys', 'list');
    expect(plain.stdout).toContain(String(k.prefix));

    const revoked = await cli('keys', 'revoke', String(k.prefix), '--json');
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id: k.id, revokedAt: expect.any(String) });
    expect((await cli('keys', 'revoke', 'key_0000000000000000')).code).toBe(2);

    const everything =
      [list, plain, revoked].map((r) => r.stdout + r.stderr).join('\n') + logText();
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(opsKey);
    expect(made.stderr + text.stderr).not.toContain('qck_');
    expect(logText()).not.toMatch(/qck_[A-Za-z0-9_-]{20}/);
  });

  it('refuses bad flags by name, exit 2, writing nothing', async () => {
    const before = JSON.parse((await cli('keys', 'list', '--json')).stdout) as unknown[];
    const badScope = await cli('keys', 'create', '--name', 'x', '--scope', 'root');
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain('--scope');
    const noScope = await cli('keys', 'create', '--name', 'x');
    expect(noScope.code).toBe(2);
    expect(noScope.stderr).toContain('--scope');
    const noName = await cli('keys', 'create', '--scope', 'quota:read');
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('--name');
    const after = JSON.parse((await cli('keys', 'list', '--json')).stdout) as unknown[];
    expect(after).toEqual(before);
  });

  it('admin commands write the audit log as "cli", with before and after', async () => {
    expect((await cli('users', 'add', 'alice', '--email', 'alice@example.com')).code).toBe(0);
    expect((await cli('users', 'set-plan', 'alice', 'pro')).code).toBe(0);
    expect((await cli('users', 'suspend', 'alice', '--reason', 'fraud check')).code).toBe(0);
    const audit = await cli('audit', '--subject', 'alice', '--json');
    expect(audit.code).toBe(0);
    const page = JSON.parse(audit.stdout) as { items: Array<Record<string, unknown>> };
    expect(page.items.map((e) => [e.action, e.actor])).toEqual([
      ['subject.suspend', 'cli'],
      ['plan.set', 'cli'],
      ['subject.create', 'cli'],
    ]);
    expect(page.items[1]).toMatchObject({ before: { plan: 'free' }, after: { plan: 'pro' } });
    const keysAudit = JSON.parse(
      (await cli('audit', '--actor', 'cli', '--limit', '100', '--json')).stdout,
    ) as {
      items: Array<{ action: string }>;
    };
    expect(keysAudit.items.filter((e) => e.action.startsWith('key.')).map((e) => e.action)).toEqual(
      ['key.revoke', 'key.create', 'key.create'],
    );
    const search = JSON.parse(
      (await cli('users', 'list', '--search', 'alice@', '--json')).stdout,
    ) as {
      items: Array<{ id: string }>;
    };
    expect(search.items.map((s) => s.id)).toEqual(['alice']);
  });
});

describe('quotaclock keys on a store that does not exist', () => {
  const cwd = tempDir();
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('keys create creates the SQLite file, says so on stderr, and the key works on serve', async () => {
    const file = join(cwd, 'fresh', 'quotaclock.db');
    expect(existsSync(file)).toBe(false);
    const made = await runCli(
      ['keys', 'create', '--name', 'web', '--scope', 'quota:write', '--db', file, '--json'],
      { cwd },
    );
    expect(made.code).toBe(0);
    expect(existsSync(file)).toBe(true);
    const notes = made.stderr.trim().split('\n');
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain(`created the SQLite store ${file}`);
    const key = String((JSON.parse(made.stdout) as { key: string }).key);

    // A second key on the now existing file says nothing more.
    const again = await runCli(
      ['keys', 'create', '--name', 'ops', '--scope', 'admin:read', '--db', file],
      { cwd },
    );
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');

    const served = await startServe(file, { cwd });
    try {
      const r = await call(`${served.url}/v1/consume`, {
        key,
        body: { subject: 'alice', feature: 'stock_reports' },
      });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ granted: true, used: 1 });
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });

  it('keys list and keys revoke on a missing file fail naming it, and create nothing', async () => {
    const dir = join(cwd, 'absent');
    const file = join(dir, 'quotaclock.db');
    for (const args of [
      ['keys', 'list'],
      ['keys', 'revoke', 'qck_Ab3dE6gH'],
    ]) {
      const r = await runCli([...args, '--db', file], { cwd });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(file);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('a refused keys create on a missing file creates nothing', async () => {
    const dir = join(cwd, 'refused');
    const r = await runCli(
      ['keys', 'create', '--name', 'x', '--scope', 'root', '--db', join(dir, 'q.db')],
      { cwd },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--scope');
    expect(existsSync(dir)).toBe(false);
  });
});
