/**
 * A real `quotaclock serve` on a temp SQLite database and a free loopback
 * port, after `init`, with a quota:write key made by `keys create --json`. Stopped with
 * SIGTERM and its folder removed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI, cleanEnv, ensureBuilt, json, runCli, tempDir } from '../helpers/cli.js';

export interface LiveServer {
  readonly url: string;
  readonly apiKey: string;
  readonly db: string;
  /** Runs a CLI command on the same database. */
  cli(args: string[]): ReturnType<typeof runCli>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`quotaclock serve exited (${child.exitCode}):\n${log()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`quotaclock serve did not become healthy:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `init`, then `keys create --json` on the fresh database. */
async function createKey(cli: LiveServer['cli'], db: string, dir: string): Promise<string> {
  const init = await cli(['init']);
  if (init.code !== 0) throw new Error(`quotaclock init failed (${init.code}): ${init.stderr}`);
  const created = await json<{ key?: unknown }>(
    ['keys', 'create', '--name', 'client-tests', '--scope', 'quota:write', '--db', db],
    { cwd: dir },
  );
  if (created.run.code !== 0 || typeof created.body.key !== 'string') {
    throw new Error(`keys create failed (${created.run.code}): ${created.run.stderr}`);
  }
  return created.body.key;
}

export async function startLiveServer(): Promise<LiveServer> {
  ensureBuilt();
  const dir = tempDir('qc-client-');
  const db = `sqlite:${join(dir, 'q.db')}`;
  const cli = (args: string[]) => runCli([...args, '--db', db], { cwd: dir });
  let apiKey: string;
  try {
    apiKey = await createKey(cli, db, dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), '--db', db],
    { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(url, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, apiKey, db, cli, stop };
}
