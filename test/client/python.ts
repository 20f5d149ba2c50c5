/**
 * Runs the Python client from the vitest suites. A missing python3 skips
 * those tests with the reason printed; under CI=true it fails them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const PYTHON = process.env.PYTHON ?? 'python3';
const DRIVER = join(import.meta.dirname, 'py_driver.py');

function probe(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import sys; assert sys.version_info >= (3, 9)'], {
    encoding: 'utf8',
  });
  if (r.error) return `${PYTHON} is not installed (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} is older than 3.9`;
  return null;
}

/** null when Python can run the client; the reason otherwise. Throws under CI=true. */
export function pythonMissing(): string | null {
  const reason = probe();
  if (reason === null) return null;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must provide python3 ≥ 3.9`);
  console.warn(`skipped: ${reason}`);
  return reason;
}

export interface PyConsumeSpec {
  url: string;
  apiKey: string;
  failMode: 'closed' | 'open';
  retries: number;
  /** Seconds per attempt; the client's default (2) when absent. */
  timeout?: number;
  concurrency: number;
  calls: Array<{ subject: string; feature: string; amount?: number; key?: string }>;
}

/** Consumes through the Python client in a python3 process; resolves its results in call order. */
export function pythonConsume(spec: PyConsumeSpec): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`python client exited ${code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as Array<Record<string, unknown>>);
      } catch {
        reject(new Error(`python client printed no JSON: ${stdout}\n${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}
