import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBlock, readBlock, removeBlock, upsertBlock } from '../../src/schedule/crontab.js';
import { cronBlock } from '../../src/schedule/targets/cron.js';
import { cronRunning } from '../../src/schedule/system.js';
import { CLI, ensureBuilt, fixedContext, requireTool, seedProject, tempDir } from './helpers.js';

const OTHERS = [
  '# m h dom mon dow command',
  'MAILTO=ops@example.com',
  '*/5 * * * * /usr/local/bin/backup --quick',
  '',
  '30 2 * * 0 /usr/bin/find /tmp -mtime +7 -delete # weekly clean',
].join('\n');

describe('the crontab block (pure)', () => {
  const block = cronBlock(fixedContext('cron'));

  it('appends to a crontab, keeping every other line byte for byte', () => {
    const { text, replaced } = upsertBlock(`${OTHERS}\n`, 'quotaclock-reset', block);
    expect(replaced).toBe(false);
    expect(text.startsWith(`${OTHERS}\n`)).toBe(true);
    expect(text.endsWith(`${block.join('\n')}\n`)).toBe(true);
  });

  it('is idempotent, and a second install replaces the block in place of adding one', () => {
    const once = upsertBlock(`${OTHERS}\n`, 'quotaclock-reset', block).text;
    expect(upsertBlock(once, 'quotaclock-reset', block).text).toBe(once);
    const other = cronBlock(fixedContext('cron', { cron: '5 1 1 * *', timeZone: 'Europe/Berlin' }));
    const twice = upsertBlock(once, 'quotaclock-reset', other);
    expect(twice.replaced).toBe(true);
    expect(twice.text.match(/# BEGIN quotaclock-reset/g)).toHaveLength(1);
    expect(twice.text).toContain('5 1 1 * * cd /srv/app');
    expect(twice.text.startsWith(`${OTHERS}\n`)).toBe(true);
  });

  it('moves the block last, so its CRON_TZ applies to no other line', () => {
    const withBlockFirst = `${block.join('\n')}\n${OTHERS}\n`;
    const berlin = cronBlock(fixedContext('cron', { timeZone: 'Europe/Berlin' }));
    const { text } = upsertBlock(withBlockFirst, 'quotaclock-reset', berlin);
    const lines = text.trimEnd().split('\n');
    expect(lines.indexOf('CRON_TZ=Europe/Berlin')).toBeGreaterThan(
      lines.indexOf('30 2 * * 0 /usr/bin/find /tmp -mtime +7 -delete # weekly clean'),
    );
  });

  it('uninstall restores the crontab exactly, and is a no-op when absent', () => {
    const installed = upsertBlock(`${OTHERS}\n`, 'quotaclock-reset', block).text;
    expect(removeBlock(installed, 'quotaclock-reset')).toEqual({
      text: `${OTHERS}\n`,
      removed: true,
    });
    expect(removeBlock(`${OTHERS}\n`, 'quotaclock-reset')).toEqual({
      text: `${OTHERS}\n`,
      removed: false,
    });
    expect(
      removeBlock(upsertBlock('', 'quotaclock-reset', block).text, 'quotaclock-reset').text,
    ).toBe('');
  });

  it('keeps blocks of other names apart (two projects in one crontab)', () => {
    const a = upsertBlock('', 'quotaclock-reset', block).text;
    const b = upsertBlock(
      a,
      'billing-reset',
      cronBlock(fixedContext('cron', { name: 'billing-reset', projectDir: '/srv/billing' })),
    ).text;
    expect(readBlock(b, 'quotaclock-reset')).toEqual(block);
    expect(removeBlock(b, 'billing-reset').text).toBe(a);
  });

  it('refuses a crontab whose markers were edited by hand', () => {
    const broken = `${block.slice(0, -1).join('\n')}\n${OTHERS}\n`;
    expect(() => findBlock(broken.split('\n'), 'quotaclock-reset')).toThrow(
      expect.objectContaining({ code: 'SCHEDULE_FAILED' }),
    );
    expect(() => upsertBlock(broken, 'quotaclock-reset', block)).toThrow(
      /fix it with `crontab -e`/,
    );
  });
});

const isRoot = process.getuid?.() === 0;

describe('schedule install|uninstall|doctor against the real crontab (throwaway user)', () => {
  const missing = requireTool('crontab', ['-V']) ?? requireTool('useradd', ['--help']);
  const skip = missing !== null || !isRoot;
  if (!isRoot)
    console.warn('skipped: the real-crontab tests create a throwaway user and need root');
  const user = `qcct${process.pid}`;
  let project = '';

  beforeAll(async () => {
    if (skip) return;
    ensureBuilt();
    expect(spawnSync('useradd', ['-m', '-s', '/bin/sh', user]).status).toBe(0);
    project = tempDir('qc-crontab-');
    chmodSync(project, 0o755);
    await seedProject(project);
    expect(spawnSync('chown', ['-R', `${user}:`, project]).status).toBe(0);
    const seed = spawnSync('crontab', ['-u', user, '-'], {
      input: `${OTHERS}\n`,
      encoding: 'utf8',
    });
    expect(seed.status, seed.stderr).toBe(0);
  });

  afterAll(() => {
    if (skip) return;
    spawnSync('crontab', ['-u', user, '-r']);
    spawnSync('userdel', ['-r', user]);
    rmSync(project, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], {
      cwd: project,
      encoding: 'utf8',
      // A shell with nothing the job lacks: doctor compares the two environments.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
    });
  const crontab = () => spawnSync('crontab', ['-u', user, '-l'], { encoding: 'utf8' }).stdout;

  it.skipIf(skip)(
    'install twice, change the schedule, then uninstall: other lines never change',
    () => {
      const args = [
        'schedule',
        'install',
        '--target',
        'cron',
        '--user',
        user,
        '--project-dir',
        project,
        '--cli',
        CLI,
      ];
      const first = cli(args);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/cron: installed/);
      const after = crontab();
      expect(after.startsWith(`${OTHERS}\n`)).toBe(true);
      expect(after).toContain(
        `1 0 1 * * cd ${project} && ${process.execPath} --env-file=${project}/.env ${CLI} reset --log-file ${project}/logs/quota_reset.log >> ${project}/logs/cron.log 2>&1`,
      );

      expect(cli(args).stdout).toMatch(/cron: replaced/);
      expect(crontab()).toBe(after);

      expect(cli([...args, '--cron', '7 3 1 * *']).status).toBe(0);
      const changed = crontab();
      expect(changed.match(/# BEGIN quotaclock-reset/g)).toHaveLength(1);
      expect(changed).toMatch(/^7 3 1 \* \* cd /m);
      expect(changed.startsWith(`${OTHERS}\n`)).toBe(true);

      const doctor = cli(['schedule', 'doctor', '--user', user]);
      if (cronRunning()) {
        expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
        expect(doctor.stdout).toMatch(/no problems: cron can run this line/);
      } else {
        // The line itself is sound; the only problem is that nothing here will run it.
        expect(doctor.status, doctor.stdout + doctor.stderr).toBe(1);
        const found = doctor.stdout.split('\n').filter((l) => l.startsWith('PROBLEM'));
        expect(found).toEqual([expect.stringMatching(/cron daemon: no cron process is running/)]);
      }
      expect(doctor.stdout).toMatch(/\[dry run\] 2026-09: would close 1 subject/);

      rmSync(join(project, '.env'));
      const broken = cli(['schedule', 'doctor', '--user', user, '--json']);
      expect(broken.status).toBe(1);
      const report = JSON.parse(broken.stdout) as {
        ok: boolean;
        checks: Array<{ check: string; status: string; message: string }>;
      };
      expect(report.ok).toBe(false);
      expect(report.checks).toContainEqual(
        expect.objectContaining({ check: 'env file', status: 'problem' }),
      );
      expect(report.checks).toContainEqual(
        expect.objectContaining({ check: 'run', status: 'problem' }),
      );

      const removed = cli(['schedule', 'uninstall', '--target', 'cron', '--user', user]);
      expect(removed.stdout).toMatch(/cron: removed/);
      expect(crontab()).toBe(`${OTHERS}\n`);
      expect(cli(['schedule', 'uninstall', '--target', 'cron', '--user', user]).stdout).toMatch(
        /nothing to remove/,
      );
      // The dry runs wrote nothing: September is still open.
      expect(readFileSync(join(project, 'logs', 'current.log'), 'utf8')).not.toMatch(
        /"msg":"period closed"/,
      );
    },
  );
});
