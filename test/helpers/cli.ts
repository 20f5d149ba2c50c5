import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Makes sure the built binary exists; `npm test` builds first through pretest. */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
}

export function tempDir(prefix = 'qc-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Environment with nothing of the developer's quotaclock settings leaking in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('QUOTACLOCK_')) delete env[k];
  return { ...env, ...extra };
}

export function runCli(
  args: string[],
  opts: { cwd: string; env?: Record<string, string> },
): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: cleanEnv(opts.env),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
  });
}

export function startCli(
  args: string[],
  opts: { cwd: string; env?: Record<string, string> },
): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env) });
}

export async function json<T = Record<string, unknown>>(
  args: string[],
  opts: { cwd: string; env?: Record<string, string> },
): Promise<{ run: CliRun; body: T }> {
  const run = await runCli([...args, '--json'], opts);
  let body: T;
  try {
    body = JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(
      `stdout of "${args.join(' ')}" is not one JSON document (exit ${run.code}):\n${run.stdout}\n${run.stderr}`,
    );
  }
  return { run, body };
}
