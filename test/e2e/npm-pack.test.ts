import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt, tempDir } from '../helpers/cli.js';

/**
 * The examples' way until quotaclock is on npm (docs/scheduling.md, "Until
 * quotaclock is published"): `npm pack`, then install the tarball into an
 * app. The tarball is installed by npm itself, as a user would; its
 * dependencies are linked from this checkout's node_modules instead of being
 * downloaded, which keeps the test to seconds and off the network (a registry
 * install builds better-sqlite3 and takes minutes).
 */
const dir = tempDir('qc-pack-');
beforeAll(() => ensureBuilt());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8' });

describe('npm pack, installed into an empty app', () => {
  it('imports quotaclock by name, consumes, and runs its CLI', () => {
    // dist/ is already built (pretest); prepare would only build it again.
    const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], ROOT)
      .trim()
      .split('\n')
      .pop()!;
    const app = join(dir, 'app');
    mkdirSync(app);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const deps: Record<string, string> = { quotaclock: `file:../${tarball}` };
    for (const d of Object.keys(pkg.dependencies))
      deps[d] = `file:${join(ROOT, 'node_modules', d)}`;
    // An optional dependency as npm leaves it here: installed where its engines
    // allow (the SQLite driver for Node 22 and later), absent elsewhere.
    for (const d of Object.keys(pkg.optionalDependencies ?? {}))
      if (existsSync(join(ROOT, 'node_modules', d)))
        deps[d] = `file:${join(ROOT, 'node_modules', d)}`;
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: deps }),
    );
    npm(['install', '--offline', '--ignore-scripts'], app);
    // A real copy from the tarball, not a link back to this checkout.
    expect(lstatSync(join(app, 'node_modules', 'quotaclock')).isSymbolicLink()).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'quotaclock', 'src'))).toBe(false);

    writeFileSync(
      join(app, 'app.mjs'),
      `import { createQuotaClock } from 'quotaclock';
const quotas = createQuotaClock({ config: { store: './app.db' } });
const r = await quotas.consume('alice', 'stock_reports', 1, { key: 'report-1' });
await quotas.close();
console.log(JSON.stringify(r));
`,
    );
    const out = execFileSync(process.execPath, ['app.mjs'], { cwd: app, encoding: 'utf8' });
    expect(JSON.parse(out)).toMatchObject({ granted: true, used: 1, limit: 10 });

    const status = execFileSync(
      join(app, 'node_modules', '.bin', 'quotaclock'),
      ['status', 'alice', '--db', 'app.db', '--json'],
      { cwd: app, encoding: 'utf8' },
    );
    expect(JSON.parse(status)).toMatchObject({
      subject: 'alice',
      features: { stock_reports: { used: 1 } },
    });
  });
});
