import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtInConfig } from '../../src/config/defaults.js';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { ensureBuilt, CLI } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'qc-defaults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the configuration without a file (the cold-start path, no zod)', () => {
  it('is exactly what the schema produces from the same input', () => {
    expect(builtInConfig()).toEqual(parseConfig({}));
    expect(builtInConfig({ store: 'postgres://127.0.0.1/test', logFile: 'logs/q.log' })).toEqual(
      parseConfig({ store: 'postgres://127.0.0.1/test', log: { file: 'logs/q.log' } }),
    );
  });

  it('is what loadConfig gives with no file, flags and environment laid on top', () => {
    const { config, file } = loadConfig({
      cwd: dir,
      store: 'sqlite:q.db',
      env: { QUOTACLOCK_LOG_FILE: 'logs/x.log' },
    });
    expect(file).toBeNull();
    expect(config).toEqual(parseConfig({ store: 'sqlite:q.db', log: { file: 'logs/x.log' } }));
    // Already validated: passed through, not parsed again.
    expect(parseConfig(config)).toBe(config);
  });

  it('a cold `status` without a config file never loads zod', () => {
    ensureBuilt();
    spawnSync(process.execPath, [CLI, 'init', '--db', join(dir, 'q.db')], { cwd: dir });
    // zod is loaded only through its CommonJS entry (config/schema.ts), so require.cache shows it.
    const probe = `process.on('exit', () => process.stderr.write('zod loaded: ' + Object.keys(require.cache).some((k) => k.includes('/node_modules/zod/')) + '\\n'))`;
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--require', join(dir, 'probe.cjs'), CLI, ...args], {
        cwd: dir,
        encoding: 'utf8',
      });
    writeFileSync(join(dir, 'probe.cjs'), probe);
    const status = run(['status', 'ghost', '--as-new', '--db', join(dir, 'q.db')]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stderr).toContain('zod loaded: false');
    // The probe can see zod: with a config file it is loaded, to validate the file.
    writeFileSync(join(dir, 'quotaclock.config.json'), '{"defaultPlan": "pro"}');
    const withFile = run(['status', 'ghost', '--as-new', '--db', join(dir, 'q.db')]);
    expect(withFile.stderr).toContain('zod loaded: true');
    rmSync(join(dir, 'quotaclock.config.json'));
  });
});
