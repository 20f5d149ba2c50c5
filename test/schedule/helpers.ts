import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  scheduleContext,
  type ScheduleContext,
  type ScheduleOptions,
} from '../../src/schedule/context.js';
import type { Target } from '../../src/schedule/cron-spec.js';
import { createQuotaClock } from '../../src/quotaclock.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');
export const GOLDEN = join(import.meta.dirname, 'golden');

/** Builds dist when a test needs the CLI and it is missing (`npm test` builds first through pretest). */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
}

export const DEFAULT_SCHEDULE = { cron: '1 0 1 * *', timeZone: 'UTC' };

/** A context with every machine-dependent value fixed, for golden files. */
export function fixedContext(target: Target, overrides: ScheduleOptions = {}): ScheduleContext {
  const windows = target === 'windows';
  return scheduleContext(
    {
      target,
      projectDir: windows ? 'C:\\srv\\app' : '/srv/app',
      ...(windows ? {} : { node: '/usr/bin/node' }),
      envFile: windows ? 'C:\\srv\\app\\.env' : '/srv/app/.env',
      systemTimeZone: 'UTC',
      user: windows ? 'svc-quotaclock' : 'quotaclock',
      ...overrides,
    },
    DEFAULT_SCHEDULE,
  );
}

/**
 * Missing platform tools skip a test with the reason printed; under CI=true
 * they fail it, so a CI image without them cannot pass silently.
 */
export function requireTool(name: string, probe: string[] = ['--version']): string | null {
  const r = spawnSync(name, probe, { encoding: 'utf8' });
  if (!r.error) return null;
  const reason = `${name} is not installed (${r.error.message})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must provide it`);
  console.warn(`skipped: ${reason}`);
  return reason;
}

export function tempDir(prefix = 'qc-schedule-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A project directory like an operator's: config, .env with the store URL,
 * a database with one subject whose September usage is waiting to be closed.
 */
export async function seedProject(
  dir: string,
  opts: { consumeAt?: string; subjects?: number } = {},
): Promise<{ db: string }> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'data', 'quotaclock.db');
  writeFileSync(
    join(dir, 'quotaclock.config.json'),
    `${JSON.stringify({ schedule: DEFAULT_SCHEDULE }, null, 2)}\n`,
  );
  writeFileSync(join(dir, '.env'), `# loaded by node --env-file\nQUOTACLOCK_DB=${db}\n`);
  const at = Date.parse(opts.consumeAt ?? '2026-09-10T12:00:00Z');
  const qc = createQuotaClock({ config: { store: db }, clock: () => at });
  await qc.init();
  for (let i = 0; i < (opts.subjects ?? 1); i += 1)
    await qc.consume(`user-${i}`, 'stock_reports', 1);
  await qc.close();
  return { db };
}
