/**
 * docs/http-api.md: every ```sh example runs, in order, against a live
 * serve, and its answer has the shape of the JSON (or the text) shown under
 * it; every route of the server has an example.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQuotaClock } from '../../src/quotaclock.js';
import { ROUTES } from '../../src/server/route-docs.js';
import { CLI, ROOT, cleanEnv, ensureBuilt } from '../helpers/cli.js';
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

/** The "Start it" block's commands, before `serve`, without their comments. */
function setupCommands(markdown: string): string[][] {
  const block = /## Start it\n+```text\n([\s\S]*?)```/.exec(markdown)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.startsWith('quotaclock ') && !line.startsWith('quotaclock serve'))
    .map((line) => line.split(/\s+/).slice(1));
}

/** Runs the setup as the page gives it, on the store: each key by its --name, and what went to stderr. */
function runSetup(
  commands: string[][],
  db: string,
  cwd: string,
): { keys: Record<string, string>; stderr: string } {
  const keys: Record<string, string> = {};
  let stderr = '';
  for (const args of commands) {
    const r = spawnSync(process.execPath, [CLI, ...args, '--db', db, '--json'], {
      cwd,
      env: cleanEnv(),
      encoding: 'utf8',
    });
    stderr += r.stderr;
    if (r.status !== 0)
      throw new Error(`quotaclock ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    const made = JSON.parse(r.stdout) as { name?: string; key?: string };
    if (made.name && made.key) keys[made.name] = made.key;
  }
  return { keys, stderr };
}

describe('docs/http-api.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qc-doc-'));
  const file = join(dir, 'doc.db');
  const db = `sqlite:${file}`;
  let served: Served;
  let env: Record<string, string>;
  let setupStderr = '';
  beforeAll(async () => {
    // The page's setup runs on a store that does not exist yet: it needs no init.
    ensureBuilt();
    if (existsSync(file)) throw new Error(`${file} exists before the setup`);
    const setup = runSetup(setupCommands(DOC), db, dir);
    const keys = setup.keys;
    setupStderr = setup.stderr;
    await seedKeys(db, { spare: ['quota:read'] });
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

  it('starts from nothing but keys create: the web and ops keys the examples use', () => {
    expect(setupCommands(DOC).map((a) => a.slice(0, 2).join(' '))).toEqual([
      'keys create',
      'keys create',
    ]);
    expect(env.QC_KEY).toMatch(/^qck_/);
    expect(env.QC_ADMIN_KEY).toMatch(/^qck_/);
    // The first keys create made the store, and said so once.
    expect(setupStderr.trim().split('\n')).toEqual([
      expect.stringContaining(`created the SQLite store ${file}`),
    ]);
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
