/**
 * Real `quotaclock serve` processes for the HTTP tests: spawned from the
 * built CLI on a store URL, on a free port, stopped with a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Scope } from '../../src/core/admin-types.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { CLI, cleanEnv, ensureBuilt } from './cli.js';

export interface Served {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every stderr line so far (the JSON log). */
  readonly log: () => string;
  readonly stdout: () => string;
  /** Sends the signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServe(
  db: string,
  opts: { args?: string[]; env?: Record<string, string>; cwd?: string; port?: number } = {},
): Promise<Served> {
  ensureBuilt();
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--db', db, '--port', String(opts.port ?? 0), ...(opts.args ?? [])],
    { cwd: opts.cwd ?? process.cwd(), env: cleanEnv(opts.env) },
  );
  let err = '';
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${err}`));
    });
  });
  return {
    url,
    child,
    exited,
    log: () => err,
    stdout: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      // A serve that does not stop fails the test (code null) and is not left running.
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const { code } = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Creates the schema and one key per scope set, through the library on the same store. */
export async function seedKeys(
  db: string,
  keys: Record<string, Scope[]>,
): Promise<Record<string, string>> {
  const qc = createQuotaClock({ config: { store: db } });
  try {
    await qc.init();
    const out: Record<string, string> = {};
    for (const [name, scopes] of Object.entries(keys))
      out[name] = (await qc.keys.create({ name, scopes })).key;
    return out;
  } finally {
    await qc.close();
  }
}

export interface Answer<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

/** One HTTP call; the body is parsed when it is JSON. */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: {
    method?: string;
    key?: string;
    body?: unknown;
    raw?: string | Buffer;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  let body: string | Buffer | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (metrics, for one): the text is the body.
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}
