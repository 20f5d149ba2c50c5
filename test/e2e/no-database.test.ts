import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, tempDir } from '../helpers/cli.js';

beforeAll(() => ensureBuilt());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function fresh(): string {
  const d = tempDir('qc-nodb-');
  dirs.push(d);
  return d;
}

const READ_ONLY: string[][] = [
  ['status', 'alice'],
  ['runs'],
  ['reset', '--dry-run'],
  ['reset'],
  ['verify'],
  ['history', 'alice'],
  ['consume', 'alice', 'stock_reports'],
  ['users', 'list'],
  ['users', 'show', 'alice'],
  ['users', 'import', 'users.csv', '--dry-run'],
  ['backup'],
  ['metrics'],
];

describe('a command that needs a database, where there is none', () => {
  it.each(READ_ONLY.map((args) => [args.join(' '), args] as const))(
    '%s: exit 2, "no database at X (run quotaclock init)", nothing created',
    async (_title, args) => {
      const cwd = fresh();
      writeFileSync(join(cwd, 'users.csv'), 'id,plan\nalice,pro\n');
      const typo = join(cwd, 'dtaa', 'quotaclock.db');
      const r = await runCli([...args, '--db', typo], { cwd });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`no database at ${typo} (run quotaclock init)`);
      expect(readdirSync(cwd)).toEqual(['users.csv']);
      // The default ./quotaclock.db is not made either.
      const bare = await runCli(args, { cwd });
      expect(bare.code).toBe(2);
      expect(bare.stderr).toContain(`no database at ${join(cwd, 'quotaclock.db')}`);
      expect(readdirSync(cwd)).toEqual(['users.csv']);
    },
  );

  it('init, users import and restore may create one', async () => {
    const cwd = fresh();
    writeFileSync(join(cwd, 'users.csv'), 'id,plan\nalice,pro\n');
    const init = await runCli(['init', '--db', join(cwd, 'a', 'q.db')], { cwd });
    expect(init.code, init.stderr).toBe(0);
    expect(existsSync(join(cwd, 'a', 'q.db'))).toBe(true);

    const imported = await runCli(
      ['users', 'import', 'users.csv', '--db', join(cwd, 'b', 'q.db')],
      { cwd },
    );
    expect(imported.code, imported.stderr).toBe(0);
    const status = await runCli(['status', 'alice', '--db', join(cwd, 'b', 'q.db')], { cwd });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/plan pro/);

    const backup = join(cwd, 'backup.jsonl');
    expect(
      (await runCli(['backup', '--out', backup, '--db', join(cwd, 'b', 'q.db')], { cwd })).code,
    ).toBe(0);
    const restored = await runCli(['restore', backup, '--db', join(cwd, 'c', 'q.db')], { cwd });
    expect(restored.code, restored.stderr).toBe(0);
    expect(existsSync(join(cwd, 'c', 'q.db'))).toBe(true);
  });
});
