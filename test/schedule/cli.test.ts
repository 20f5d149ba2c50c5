import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TARGETS } from '../../src/schedule/cron-spec.js';
import { CLI, ensureBuilt, tempDir } from './helpers.js';

function cli(args: string[], cwd: string) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('QUOTACLOCK_')) delete env[k];
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env });
}

describe('quotaclock schedule (the commands)', () => {
  let dir = '';
  beforeAll(() => {
    ensureBuilt();
    dir = tempDir('qc-schedule-cli-');
  });

  it.each(TARGETS)(
    'print --target %s: the artifact on stdout, next steps on stderr, exit 0',
    (target) => {
      const r = cli(
        [
          'schedule',
          'print',
          '--target',
          target,
          '--project-dir',
          dir,
          '--system-time-zone',
          'UTC',
        ],
        dir,
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(100);
      expect(r.stdout).not.toMatch(/--dry-run/);
      expect(r.stderr).toMatch(/: /);
      const json = cli(
        [
          'schedule',
          'print',
          '--target',
          target,
          '--project-dir',
          dir,
          '--system-time-zone',
          'UTC',
          '--json',
        ],
        dir,
      );
      const artifact = JSON.parse(json.stdout) as {
        target: string;
        files: Array<{ content: string }>;
      };
      expect(artifact.target).toBe(target);
      expect(r.stdout).toContain(artifact.files[0]!.content.split('\n')[0]);
    },
  );

  it('flags override the config file, which overrides the default', () => {
    const cfgDir = tempDir('qc-schedule-cfg-');
    const config = join(cfgDir, 'quotaclock.config.json');
    writeFileSync(
      config,
      JSON.stringify({ schedule: { cron: '5 2 1 * *', timeZone: 'Asia/Tokyo' } }),
    );
    const fromConfig = cli(['schedule', 'print', '--target', 'k8s'], cfgDir);
    expect(fromConfig.stdout).toMatch(/schedule: '5 2 1 \* \*'\n\s+timeZone: 'Asia\/Tokyo'/);
    const fromFlags = cli(
      [
        'schedule',
        'print',
        '--target',
        'k8s',
        '--cron',
        '0 4 1 * *',
        '--time-zone',
        'Europe/Paris',
      ],
      cfgDir,
    );
    expect(fromFlags.stdout).toMatch(/schedule: '0 4 1 \* \*'\n\s+timeZone: 'Europe\/Paris'/);
  });

  it('bad input exits 2 with a coded error naming the flag', () => {
    const unknown = cli(['schedule', 'print', '--target', 'launchd'], dir);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(
      /--target: expected one of cron, systemd, windows, k8s, aws, azure, gcp/,
    );
    const zone = cli(['schedule', 'print', '--target', 'cron', '--time-zone', 'Mars/Olympus'], dir);
    expect(zone.status).toBe(2);
    const unsupported = cli(
      ['schedule', 'print', '--target', 'azure', '--cron', '0 0 L * *', '--json'],
      dir,
    );
    expect(unsupported.status).toBe(2);
    expect(JSON.parse(unsupported.stdout)).toMatchObject({
      error: { code: 'SCHEDULE_UNSUPPORTED', where: '--cron' },
    });
  });

  it('install --target systemd --dir writes both units; uninstall removes them', () => {
    const units = tempDir('qc-units-cli-');
    const r = cli(
      [
        'schedule',
        'install',
        '--target',
        'systemd',
        '--dir',
        units,
        '--user',
        'app',
        '--project-dir',
        dir,
      ],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(units, 'quotaclock-reset.timer'), 'utf8')).toMatch(
      /^OnCalendar=\*-\*-01 00:01:00 UTC$/m,
    );
    expect(readFileSync(join(units, 'quotaclock-reset.service'), 'utf8')).toMatch(/^User=app$/m);
    expect(cli(['schedule', 'install', '--target', 'systemd', '--dir', units], dir).stdout).toMatch(
      /systemd: replaced/,
    );
    expect(
      cli(['schedule', 'uninstall', '--target', 'systemd', '--dir', units], dir).stdout,
    ).toMatch(/systemd: removed/);
    expect(existsSync(join(units, 'quotaclock-reset.timer'))).toBe(false);
  });

  it('install --target windows writes the XML and prints the register commands', () => {
    const out = tempDir('qc-win-cli-');
    const r = cli(
      ['schedule', 'install', '--target', 'windows', '--dir', out, '--project-dir', 'C:\\srv\\app'],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /schtasks \/Create \/TN quotaclock-reset \/XML C:\\srv\\app\\quotaclock-reset\.xml \/F/,
    );
    expect(r.stdout).toMatch(/Register-ScheduledTask/);
    expect(readFileSync(join(out, 'quotaclock-reset.xml')).subarray(0, 2)).toEqual(
      Buffer.from([0xff, 0xfe]),
    );
  });

  it('install --target windows from another system requires --project-dir instead of guessing', () => {
    const out = tempDir('qc-win-cli-');
    const r = cli(['schedule', 'install', '--target', 'windows', '--dir', out], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--project-dir: required for --target windows on linux/);
    expect(readdirSync(out)).toEqual([]);
    rmSync(out, { recursive: true, force: true });
  });

  it('--env-path names the env file even when it is not on this machine (Node would intercept --env-file)', () => {
    const r = cli(
      [
        'schedule',
        'print',
        '--target',
        'windows',
        '--project-dir',
        'C:\\srv\\app',
        '--env-path',
        'C:\\srv\\app\\.env',
      ],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('--env-file=C:\\srv\\app\\.env C:\\srv\\app\\node_modules');
    const none = cli(['schedule', 'print', '--target', 'cron', '--no-env-path'], dir);
    expect(none.stdout).not.toContain('--env-file=');
  });

  it('the old --env-file still works where Node lets it through (a file that exists here)', () => {
    const envFile = join(dir, 'old-name.env');
    writeFileSync(envFile, 'A=1\n');
    const r = cli(['schedule', 'print', '--target', 'cron', '--env-file', envFile], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`--env-file=${envFile} `);
  });

  it.each([
    ['k8s', /kubectl apply -f -/, /kubectl delete cronjob quotaclock-reset/],
    ['aws', /sam build --use-container && sam deploy --guided/, /sam delete --stack-name/],
    ['azure', /func azure functionapp publish/, /func azure functionapp publish/],
    ['gcp', /PROJECT_ID=my-project sh deploy\.sh/, /gcloud scheduler jobs delete quotaclock-reset/],
  ])(
    'install and uninstall --target %s print the platform’s own steps (exit 2: nothing done here)',
    (target, deploy, remove) => {
      const r = cli(['schedule', 'install', '--target', target], dir);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(deploy);
      const u = cli(['schedule', 'uninstall', '--target', target], dir);
      expect(u.status).toBe(2);
      expect(u.stderr).toMatch(remove);
    },
  );

  it('help lists only what each command uses: install names its targets, uninstall only its four options', () => {
    const install = cli(['schedule', 'install', '--help'], dir).stdout;
    expect(install.replace(/\s+/g, ' ')).toContain(
      '--target <target> cron, systemd or windows (for k8s, aws, azure, gcp it prints the deploy steps)',
    );
    const uninstall = cli(['schedule', 'uninstall', '--help'], dir).stdout;
    const own = uninstall.slice(
      uninstall.indexOf('Options:'),
      uninstall.indexOf('Global Options:'),
    );
    expect([...own.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1])).toEqual([
      '--target',
      '--name',
      '--user',
      '--dir',
    ]);
  });
});
