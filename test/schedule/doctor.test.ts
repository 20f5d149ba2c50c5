import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scheduleContext } from '../../src/schedule/context.js';
import {
  cronDoctor,
  cronUnescape,
  referencedEnv,
  referencedFiles,
  shellWords,
  type DoctorReport,
} from '../../src/schedule/doctor.js';
import { cronBlock } from '../../src/schedule/targets/cron.js';
import { CLI, DEFAULT_SCHEDULE, ensureBuilt, seedProject, tempDir } from './helpers.js';

const problems = (r: DoctorReport) => r.checks.filter((c) => c.status === 'problem');
const problem = (r: DoctorReport, check: string) => problems(r).find((c) => c.check === check);

describe('doctor helpers', () => {
  it('splits shell words like sh', () => {
    expect(
      shellWords(`cd '/srv/my app' && "/usr/bin/node" --env-file='/a b/.env' x\\ y >> log 2>&1`),
    ).toEqual([
      'cd',
      '/srv/my app',
      '&&',
      '/usr/bin/node',
      '--env-file=/a b/.env',
      'x y',
      '>>',
      'log',
      '2>&1',
    ]);
  });

  it("applies cron's % rule", () => {
    expect(cronUnescape('date +\\%Y')).toEqual({ command: 'date +%Y', stdin: null });
    expect(cronUnescape('mail -s hi root%line one%line two')).toEqual({
      command: 'mail -s hi root',
      stdin: 'line one\nline two',
    });
  });

  it('finds the env variables and files a config depends on', () => {
    const config = {
      notify: {
        targets: [
          { type: 'slack', url: { env: 'SLACK_WEBHOOK_URL' } },
          {
            type: 'email',
            smtp: { password: { file: '/run/secrets/smtp' }, caFile: 'certs/ca.pem' },
          },
        ],
      },
      log: { file: null },
    };
    expect(referencedEnv(config)).toEqual(['SLACK_WEBHOOK_URL']);
    expect(referencedFiles(config)).toEqual(['/run/secrets/smtp', 'certs/ca.pem']);
  });
});

describe('schedule doctor runs the installed line as cron would', () => {
  let project = '';
  let home = '';
  const ctxFor = (overrides: Record<string, unknown> = {}) =>
    scheduleContext(
      { target: 'cron', projectDir: project, cli: CLI, systemTimeZone: 'UTC', ...overrides },
      DEFAULT_SCHEDULE,
    );
  /** A crontab whose owner's HOME is a scratch directory (cron lets a crontab set HOME). */
  const crontab = (lines: readonly string[], preamble: string[] = []) =>
    `${[`HOME=${home}`, ...preamble, ...lines].join('\n')}\n`;
  // These tests are about the line; whether this machine runs a cron daemon has its own test below.
  const doctor = (text: string, shellEnv: NodeJS.ProcessEnv = {}, cronRunning = true) =>
    cronDoctor({
      name: 'quotaclock-reset',
      crontab: text,
      shellEnv,
      timeoutMs: 60_000,
      cronRunning,
    });

  beforeAll(async () => {
    ensureBuilt();
    project = tempDir('qc-doctor-');
    home = tempDir('qc-doctor-home-');
    await seedProject(project);
    mkdirSync(join(project, 'logs'));
  });

  it('no cron daemon: a line that will never run is a problem (exit 1), not a warning', () => {
    const r = doctor(crontab(cronBlock(ctxFor())), {}, false);
    expect(problems(r)).toEqual([
      expect.objectContaining({
        check: 'cron daemon',
        message: expect.stringMatching(/no cron process is running: nothing will run the line/),
      }),
    ]);
    expect(r.ok).toBe(false);
  });

  it('passes a generated line, running a dry run that writes nothing', () => {
    const r = doctor(crontab(cronBlock(ctxFor())));
    expect(problems(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.ran).toMatch(
      /^env -i HOME=\S+ LOGNAME=\S+ PATH=\/usr\/bin:\/bin SHELL=\/bin\/sh \/bin\/sh -c/,
    );
    expect(r.ran).toContain(' reset --dry-run --log-file ');
    expect(r.output).toMatch(/\[dry run\] 2026-09: would close 1 subject/);
  });

  it('node not on PATH: a line that calls node by a name only your shell finds', () => {
    const bin = tempDir('qc-nvm-');
    symlinkSync(process.execPath, join(bin, 'qc-node'));
    const line = `1 0 1 * * cd ${project} && qc-node --env-file=${project}/.env ${CLI} reset >> ${project}/logs/quota_reset.log 2>&1`;
    const r = doctor(crontab(['# BEGIN quotaclock-reset', line, '# END quotaclock-reset']), {
      PATH: `${bin}:/usr/bin:/bin`,
    });
    expect(problem(r, 'node')?.message).toMatch(
      /"qc-node" is not on cron's PATH \(\/usr\/bin:\/bin\)/,
    );
    expect(problem(r, 'run')?.message).toMatch(
      /exit 127: a program was not found with cron's PATH/,
    );
    expect(r.ok).toBe(false);
  });

  it('wrong working directory: without cd the job starts in $HOME and misses the project', () => {
    const line = `1 0 1 * * ${process.execPath} ${CLI} reset >> ${project}/logs/quota_reset.log 2>&1`;
    const r = doctor(crontab(['# BEGIN quotaclock-reset', line, '# END quotaclock-reset']));
    expect(problem(r, 'working directory')?.message).toMatch(
      /does not cd to the project: cron starts in /,
    );
    expect(problem(r, 'run')?.message).toMatch(/schema version 0|quotaclock init/);
  });

  it('a directory that does not exist', () => {
    const r = doctor(
      crontab(
        cronBlock(ctxFor({ projectDir: join(project, 'moved-away'), cli: CLI, envFile: false })),
      ),
    );
    expect(problem(r, 'working directory')?.message).toMatch(/no such directory/);
    expect(problem(r, 'run')?.message).toMatch(/working directory is wrong|can't cd/);
  });

  it('a variable your shell has and cron does not, and one the config needs', () => {
    const p2 = tempDir('qc-doctor-env-');
    mkdirSync(join(p2, 'logs'));
    writeFileSync(
      join(p2, 'quotaclock.config.json'),
      JSON.stringify({ notify: { targets: [{ type: 'slack' }] } }),
    );
    const r = doctor(crontab(cronBlock(ctxFor({ projectDir: p2, envFile: false }))), {
      QUOTACLOCK_DB: join(project, 'data', 'quotaclock.db'),
    });
    const env = problems(r)
      .filter((c) => c.check === 'env')
      .map((c) => c.message);
    expect(env).toContainEqual(
      expect.stringMatching(/^the config reads SLACK_WEBHOOK_URL, which the job will not have/),
    );
    expect(env).toContainEqual(
      expect.stringMatching(/^QUOTACLOCK_DB is set in your shell but cron will not have it/),
    );
  });

  it("a missing credential file (the old guide's service-account key)", () => {
    const p3 = tempDir('qc-doctor-cred-');
    mkdirSync(join(p3, 'logs'));
    writeFileSync(
      join(p3, '.env'),
      `QUOTACLOCK_DB=${join(project, 'data', 'quotaclock.db')}\nGOOGLE_APPLICATION_CREDENTIALS=config/firebase-service-account-key.json\n`,
    );
    const r = doctor(crontab(cronBlock(ctxFor({ projectDir: p3 }))));
    expect(problem(r, 'credentials')?.message).toMatch(
      /config\/firebase-service-account-key\.json: missing or unreadable \(relative to /,
    );
  });

  it('a line that is a dry run is itself a problem (the old system ran one for ever)', () => {
    const [begin, line, end] = cronBlock(ctxFor()).filter((l) => !l.startsWith('# Managed'));
    const dry = line!.replace(' reset ', ' reset --dry-run ');
    const r = doctor(crontab([begin!, dry, end!]));
    expect(problem(r, 'real run')?.message).toMatch(/dry run: it would never reset anything/);
  });

  it("honours the crontab's own settings above the line, as cron does", () => {
    // PATH set in the crontab makes a bare "node" resolvable.
    const bin = tempDir('qc-path-');
    symlinkSync(process.execPath, join(bin, 'qc-node'));
    const line = `1 0 1 * * cd ${project} && qc-node --env-file=${project}/.env ${CLI} reset >> ${project}/logs/quota_reset.log 2>&1`;
    const r = doctor(
      crontab(
        ['# BEGIN quotaclock-reset', line, '# END quotaclock-reset'],
        [`PATH=${bin}:/usr/bin:/bin`],
      ),
    );
    expect(r.checks.find((c) => c.check === 'node')?.status).toBe('warning');
    expect(problem(r, 'run')).toBeUndefined();
  });

  it('says so when nothing is installed', () => {
    const r = doctor(crontab(['*/5 * * * * true']));
    expect(problem(r, 'installed')?.message).toMatch(/no "quotaclock-reset" block/);
  });
});
