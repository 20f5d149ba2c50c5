import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import (static, re-export, side-effect or dynamic) of a file, as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import\(|import)\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
  return specs.map((s) => relative(SRC, resolve(dirname(file), s)));
}

const HIGHER = ['notify', 'jobs', 'schedule', 'report', 'server', 'cli', 'entry', 'metrics'];

describe('layers point down (DESIGN.md)', () => {
  const lower = [
    join(SRC, 'quotaclock.ts'),
    join(SRC, 'quotaclock-admin.ts'),
    join(SRC, 'observers.ts'),
    ...files(join(SRC, 'core')),
    ...files(join(SRC, 'store')),
  ];
  it.each(lower.map((f) => [relative(SRC, f)]))(
    '%s imports nothing from notify, jobs, schedule, report, server, cli, entry or metrics',
    (rel) => {
      const bad = importsOf(join(SRC, rel)).filter((p) => HIGHER.includes(p.split('/')[0]!));
      expect(bad).toEqual([]);
    },
  );

  it('sees the imports it checks (static, dynamic and side-effect)', () => {
    expect(importsOf(join(SRC, 'quotaclock.ts'))).toContain('store/open-store.js');
    expect(importsOf(join(SRC, 'cli/commands/reset.ts'))).toContain('jobs/reset-all.js');
  });

  it('jobs, notify, schedule, report and metrics import nothing from cli, entry or server', () => {
    const bad = ['jobs', 'notify', 'schedule', 'report', 'metrics'].flatMap((dir) =>
      files(join(SRC, dir)).flatMap((f) =>
        importsOf(f)
          .filter((p) => ['cli', 'entry', 'server'].includes(p.split('/')[0]!))
          .map((p) => `${relative(SRC, f)} -> ${p}`),
      ),
    );
    expect(bad).toEqual([]);
  });

  it('the server imports nothing from cli or entry', () => {
    const bad = files(join(SRC, 'server')).flatMap((f) =>
      importsOf(f)
        .filter((p) => ['cli', 'entry'].includes(p.split('/')[0]!))
        .map((p) => `${relative(SRC, f)} -> ${p}`),
    );
    expect(bad).toEqual([]);
  });
});
