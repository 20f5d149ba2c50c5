/**
 * `quotaclock/client` is meant for apps and edge functions: bundled, it must
 * stay small and reach for no Node built-in (fetch, AbortSignal, crypto and
 * setTimeout are globals in every target runtime).
 */
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const BUILTINS = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

describe('quotaclock/client bundle', () => {
  it('is under 10 KB minified and imports no Node built-in or package', async () => {
    const result = await build({
      entryPoints: [join(ROOT, 'src/client/index.ts')],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      write: false,
      metafile: true,
      // Kept external rather than failing the build, so the test can name what leaked in.
      external: BUILTINS,
      logLevel: 'silent',
    });
    const output = result.outputFiles[0]!;
    const bytes = output.contents.byteLength;
    console.info(`quotaclock/client bundle: ${bytes} bytes minified`);
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThan(10 * 1024);

    const imports = Object.values(result.metafile.outputs).flatMap((o) =>
      o.imports.map((i) => i.path),
    );
    expect(imports).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.every((p) => p.startsWith('src/client/'))).toBe(true);
    expect(output.text).not.toMatch(/\brequire\(|from\s*["']node:/);
  });
});
