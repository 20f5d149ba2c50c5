/**
 * docs/http-api.md: every ```sh example runs, in order, against a live
 * serve, and its answer has the shape of the JSON (or the text) shown under
 * it; every route of the server has an example.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQuotaClock } from '../../src/quotaclock.js';
import { ROUTES } from '../../src/server/route-docs.js';
import { ROOT } from '../helpers/cli.js';
import { seedKeys, startServe, type Served } from '../helpers/serve.js';

interface Example {
  readonly command: string;
  readonly expected: { lang: string; text: string } | undefined;
}

function examples(markdown: string): Example[] {
  const blocks = [...markdown.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1]!,
    text: m[2]!,
  }));
  const out: Example[] = [];
  blocks.forEach((b, i) => {
    if (b.lang !== 'sh') return;
    const next = blocks[i + 1];
    out.push({ command: b.text, expected: next && next.lang !== 'sh' ? next : undefined });
  });
  return out;
}

/** Same kind, and every key the doc shows is in the answer (recursively, into the first array item). */
function sameShape(doc: unknown, got: unknown, path = '$'): string[] {
  if (Array.isArray(doc)) {
    if (!Array.isArray(got)) return [`${path}: expected an array`];
    return doc.length > 0 && got.length > 0 ? sameShape(doc[0], got[0], `${path}[0]`) : [];
  }
  if (doc && typeof doc === 'object') {
    if (!got || typeof got !== 'object' || Array.isArray(got))
      return [`${path}: expected an object`];
    return Object.keys(doc).flatMap((k) =>
      k in got
        ? sameShape(
            (doc as Record<string, unknown>)[k],
            (got as Record<string, unknown>)[k],
            `${path}.${k}`,
          )
        : [`${path}.${k}: missing`],
    );
  }
  if (doc === null || got === null) return [];
  return typeof doc === typeof got ? [] : [`${path}: expected a ${typeof doc}`];
}

const DOC = readFileSync(join(ROOT, 'docs/http-api.md'), 'utf8');
const EXAMPLES = examples(DOC);

describe('docs/http-api.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qc-doc-'));
  const db = `sqlite:${join(dir, 'doc.db')}`;
  let served: Served;
  let env: Record<string, string>;
  beforeAll(async () => {
    const keys = await seedKeys(db, {
      web: ['quota:write'],
      ops: ['admin:write'],
      spare: ['quota:read'],
    });
    const qc = createQuotaClock({ config: { store: db } });
    const spare = (await qc.keys.list()).find((k) => k.name === 'spare')!;
    await qc.close();
    served = await startServe(db);
    env = {
      ...(process.env as Record<string, string>),
      QC: served.url,
      QC_KEY: keys.web!,
      QC_ADMIN_KEY: keys.ops!,
      KEY_ID: spare.id,
    };
  });
  afterAll(async () => {
    expect(await served?.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('has an example for every route', () => {
    const commands = EXAMPLES.map((e) => e.command).join('\n');
    const missing = ROUTES.filter((r) => {
      const path = r.path.replace(/\{\w+\}/g, '[^"?\\s/]+');
      const method = r.method === 'GET' ? '' : `-X ${r.method}[^\\n]*`;
      return !new RegExp(`${method}"\\$QC${path}(\\?[^"]*)?"`).test(commands);
    });
    expect(missing.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it.each(EXAMPLES.map((e, i) => [i + 1, e.command.split('\n')[0]!, e] as const))(
    'example %i runs: %s',
    (_i, _first, example) => {
      const output = execFileSync('bash', ['-eu', '-c', example.command], {
        env,
        encoding: 'utf8',
      });
      expect(example.expected, 'each example shows its answer').toBeDefined();
      const { lang, text } = example.expected!;
      if (lang === 'json') {
        const got = JSON.parse(output) as unknown;
        expect(sameShape(JSON.parse(text), got)).toEqual([]);
        // Error examples show the real code.
        const code = (JSON.parse(text) as { code?: string }).code;
        if (code) expect(got).toMatchObject({ code });
      } else {
        expect(output.trim()).toBe(text.trim());
      }
    },
  );
});
