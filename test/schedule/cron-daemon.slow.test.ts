import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQuotaClock } from '../../src/quotaclock.js';
import { cronRunning } from '../../src/schedule/system.js';
import { CLI, ensureBuilt, seedProject, tempDir } from './helpers.js';

/**
 * The slow suite: a real Debian cron daemon runs a per-minute line that
 * `schedule install` wrote into a throwaway user's crontab. Selected with
 * QUOTACLOCK_SLOW=1 (see test/schedule/README.md); needs root.
 */
const selected = process.env.QUOTACLOCK_SLOW === '1';
const isRoot = process.getuid?.() === 0;

function why(): string | null {
  if (!selected) return 'slow suite: set QUOTACLOCK_SLOW=1 to run it';
  if (!isRoot) return 'the real-cron test creates a user and starts cron, which needs root';
  return null;
}

const reason = why();
if (reason) {
  if (selected && process.env.CI === 'true') throw new Error(`${reason}; CI must provide it`);
  console.warn(`skipped: ${reason}`);
}

/** Installs Debian's cron package when it is missing, as `.ci/run` would. */
function ensureCron(): void {
  if (existsSync('/usr/sbin/cron') && spawnSync('crontab', ['-V']).error === undefined) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], {
    env,
    stdio: 'inherit',
    timeout: 300_000,
  });
  const install = spawnSync('apt-get', ['install', '-y', '-q', 'cron'], {
    env,
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (update.status !== 0 || install.status !== 0 || !existsSync('/usr/sbin/cron')) {
    throw new Error('could not install the Debian cron package (apt-get install -y cron)');
  }
}

describe.skipIf(reason !== null)(
  'a real cron daemon runs the line `schedule install` wrote',
  () => {
    const user = `qccron${process.pid}`;
    let project = '';
    let cron: ChildProcess | null = null;

    afterAll(() => {
      if (cron && cron.exitCode === null) cron.kill('SIGTERM');
      spawnSync('crontab', ['-u', user, '-r']);
      spawnSync('userdel', ['-r', user]);
      if (project) rmSync(project, { recursive: true, force: true });
    });

    it(
      'installs a per-minute line, sees its log line within ~70 s, then uninstalls',
      { timeout: 240_000 },
      async () => {
        ensureBuilt();
        ensureCron();
        expect(spawnSync('useradd', ['-m', '-s', '/bin/sh', user]).status).toBe(0);
        project = tempDir('qc-cron-slow-');
        chmodSync(project, 0o755);
        const { db } = await seedProject(project);
        expect(spawnSync('chown', ['-R', `${user}:`, project]).status).toBe(0);

        const cli = (args: string[]) =>
          spawnSync(process.execPath, [CLI, ...args], {
            cwd: project,
            encoding: 'utf8',
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
          });
        const install = cli([
          'schedule',
          'install',
          '--target',
          'cron',
          '--user',
          user,
          '--cron',
          '* * * * *',
          '--project-dir',
          project,
          '--cli',
          CLI,
        ]);
        expect(install.status, install.stderr).toBe(0);
        const table = spawnSync('crontab', ['-u', user, '-l'], { encoding: 'utf8' }).stdout;
        expect(table).toMatch(/^\* \* \* \* \* cd /m);

        // Our own cron in the foreground, so we stop exactly the process we started.
        if (!cronRunning()) {
          cron = spawn('/usr/sbin/cron', ['-f'], { stdio: 'ignore' });
        }

        // The rotating log through current.log, and cron's own capture beside it.
        const log = join(project, 'logs', 'current.log');
        const captured = join(project, 'logs', 'cron.log');
        const deadline = Date.now() + 75_000;
        let text = '';
        while (Date.now() < deadline) {
          text = existsSync(log) ? readFileSync(log, 'utf8') : '';
          if (/"msg":"reset finished"/.test(text)) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
        expect(text, `no log line from cron within 75 s; log so far:\n${text}`).toMatch(
          /"msg":"reset finished"/,
        );
        expect(readFileSync(captured, 'utf8')).toMatch(/2026-09: closed 1 subject/);

        const qc = createQuotaClock({ config: { store: db } });
        try {
          expect((await (await qc.store()).getRun('2026-09'))?.status).toBe('closed');
        } finally {
          await qc.close();
        }

        const removed = cli(['schedule', 'uninstall', '--target', 'cron', '--user', user]);
        expect(removed.stdout).toMatch(/cron: removed/);
        expect(spawnSync('crontab', ['-u', user, '-l'], { encoding: 'utf8' }).stdout).not.toMatch(
          /quotaclock-reset/,
        );
        if (cron) {
          const stopped = new Promise((resolve) => cron!.once('exit', resolve));
          cron.kill('SIGTERM');
          await stopped;
        }
      },
    );
  },
);
