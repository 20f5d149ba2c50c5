/**
 * `quotaclock/client` is meant for apps and edge functions: bundled, it must
 * stay small and reach for no Node built-in (fetch, AbortSignal, crypto and
 * setTimeout are globals in every target runtime).
 */
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/cli.js';
import { startScriptedServer } from './scripted-server.js';

const BUILTINS = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

describe('quotaclock/client bundle', () => {
  it('is under 10 KB minified and imports no Node built-in or package', async () => {
    ensureBuilt();
    // Through the package's own export map, as an app's bundler would resolve it.
    const result = await build({
      stdin: { contents: "export * from 'quotaclock/client'", resolveDir: ROOT, loader: 'js' },
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
    expect(inputs.filter((p) => p !== '<stdin>').every((p) => p.startsWith('dist/client/'))).toBe(
      true,
    );
    expect(inputs).toContain('dist/client/index.js');
    expect(output.text).not.toMatch(/\brequire\(|from\s*["']node:/);
  });

  it('runs with only the web platform globals an edge runtime has (no process, Buffer or require)', async () => {
    const bundle = await build({
      entryPoints: [join(ROOT, 'src/client/index.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'quotaclockClient',
      platform: 'neutral',
      write: false,
      logLevel: 'silent',
    });
    const edge = createContext({
      fetch,
      AbortSignal,
      URL,
      crypto: globalThis.crypto,
      setTimeout,
      JSON,
      console,
    });
    runInContext(bundle.outputFiles[0]!.text, edge);
    expect(runInContext('typeof process + typeof Buffer + typeof require', edge)).toBe(
      'undefinedundefinedundefined',
    );
    const server = await startScriptedServer((_n, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ granted: true, used: 1, limit: 10, remaining: 9, period: null }));
    });
    try {
      edge.url = server.url;
      const result = await runInContext(
        `new quotaclockClient.QuotaClockClient({ url, apiKey: 'qck_edge', failMode: 'closed' }).consume('u1', 'stock_reports')`,
        edge,
      );
      expect(result).toMatchObject({
        granted: true,
        used: 1,
        key: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(server.seen[0]!.idempotencyKey).toBe(`"${result.key}"`);
    } finally {
      await server.close();
    }
  });
});
