/// <reference lib="dom" />
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Cron } from 'croner';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { createQuotaClock } from '../../src/quotaclock.js';
import { scheduleContext } from '../../src/schedule/context.js';
import { cronUnescape } from '../../src/schedule/doctor.js';
import { generateSchedule } from '../../src/schedule/generate.js';
import { installWindows } from '../../src/schedule/install.js';
import { CRON_PATH } from '../../src/schedule/doctor.js';
import {
  CLI,
  DEFAULT_SCHEDULE,
  ensureBuilt,
  fixedContext,
  requireTool,
  seedProject,
  tempDir,
} from './helpers.js';

const TASK_NS = 'http://schemas.microsoft.com/windows/2004/02/mit/task';

describe('cron: the generated line parses in croner and runs under env -i', () => {
  it('runs the real reset from a clean environment and logs it', async () => {
    ensureBuilt();
    const project = tempDir('qc-cron-line-');
    const { db } = await seedProject(project);
    const home = tempDir('qc-cron-home-');
    const ctx = scheduleContext(
      { target: 'cron', projectDir: project, cli: CLI, systemTimeZone: 'UTC' },
      DEFAULT_SCHEDULE,
    );
    expect(ctx.envFile).toBe(join(project, '.env'));
    const block = generateSchedule(ctx).files[0]!.content.trimEnd().split('\n');
    const line = block.find((l) => !l.startsWith('#') && !/^[A-Z_]+=/.test(l))!;
    const fields = line.split(/\s+/).slice(0, 5).join(' ');
    expect(fields).toBe('1 0 1 * *');
    // croner reads the same schedule: the 1st at 00:01
    const next = new Cron(fields, { timezone: 'UTC', paused: true }).nextRun(
      new Date('2026-11-15T00:00:00Z'),
    );
    expect(next?.toISOString()).toBe('2026-12-01T00:01:00.000Z');

    const { command } = cronUnescape(line.replace(/^(\S+\s+){5}/, ''));
    mkdirSync(join(project, 'logs'));
    // cron's environment and nothing else; cron starts jobs in $HOME.
    const run = spawnSync(
      'env',
      [
        '-i',
        `HOME=${home}`,
        `LOGNAME=${userInfo().username}`,
        `PATH=${CRON_PATH}`,
        'SHELL=/bin/sh',
        '/bin/sh',
        '-c',
        command,
      ],
      {
        cwd: home,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    // The rotating JSON log (the dated file current.log links to)...
    const dated = readdirSync(join(project, 'logs')).find((f) => /^quota_reset\..+\.log$/.test(f));
    const log = readFileSync(join(project, 'logs', dated!), 'utf8');
    expect(log).toMatch(/"msg":"reset finished"/);
    // ...and cron's own capture: the summary, with no copy of the info lines.
    const captured = readFileSync(join(project, 'logs', 'cron.log'), 'utf8');
    expect(captured).toMatch(/2026-09: closed 1 subject/);
    expect(captured).not.toMatch(/"level":"info"/);

    const qc = createQuotaClock({ config: { store: db } });
    try {
      const runs = await (await qc.store()).listRuns(10);
      expect(runs.find((r) => r.key === '2026-09')?.status).toBe('closed');
    } finally {
      await qc.close();
    }
  });

  it('writes CRON_TZ only when the zone differs from the system zone', () => {
    expect(generateSchedule(fixedContext('cron')).files[0]!.content).not.toMatch(/CRON_TZ/);
    const berlin = generateSchedule(fixedContext('cron', { timeZone: 'Europe/Berlin' })).files[0]!
      .content;
    expect(berlin).toMatch(/^CRON_TZ=Europe\/Berlin$/m);
    expect(
      generateSchedule(
        fixedContext('cron', { timeZone: 'Europe/Berlin', systemTimeZone: 'Europe/Berlin' }),
      ).files[0]!.content,
    ).not.toMatch(/^CRON_TZ/m);
  });

  it('loads the env file and never copies a variable into the crontab', () => {
    const content = generateSchedule(fixedContext('cron')).files[0]!.content;
    expect(content).toContain('--env-file=/srv/app/.env');
    expect(content).not.toMatch(/QUOTACLOCK_DB|PASSWORD|=postgres/);
  });

  it('escapes % for cron and quotes paths with spaces for sh', () => {
    const ctx = fixedContext('cron', {
      projectDir: '/srv/my app',
      envFile: '/srv/my app/100%.env',
    });
    const line = generateSchedule(ctx)
      .files[0]!.content.split('\n')
      .find((l) => l.startsWith('1 0 1'))!;
    expect(line).toContain("cd '/srv/my app' &&");
    expect(line).toContain("--env-file='/srv/my app/100\\%.env'");
    expect(cronUnescape(line).stdin).toBeNull();
  });
});

describe('systemd: units pass systemd-analyze verify and OnCalendar passes systemd-analyze calendar', () => {
  const missing = requireTool('systemd-analyze');

  for (const timeZone of ['UTC', 'Europe/Berlin', 'America/Los_Angeles']) {
    it.skipIf(missing !== null)(`verify and calendar (${timeZone})`, async () => {
      ensureBuilt();
      const project = tempDir('qc-systemd-');
      await seedProject(project);
      const ctx = scheduleContext(
        {
          target: 'systemd',
          projectDir: project,
          cli: CLI,
          timeZone,
          systemTimeZone: 'UTC',
          user: 'root',
        },
        DEFAULT_SCHEDULE,
      );
      const dir = tempDir('qc-units-');
      const artifact = generateSchedule(ctx);
      for (const f of artifact.files) writeFileSync(join(dir, f.name), f.content);
      const service = join(dir, 'quotaclock-reset.service');
      const timer = join(dir, 'quotaclock-reset.timer');
      const verify = spawnSync('systemd-analyze', ['verify', service, timer], { encoding: 'utf8' });
      expect(verify.status, verify.stderr).toBe(0);
      expect(verify.stderr).not.toMatch(/quotaclock-reset\.(service|timer):\d+:/);

      const timerText = readFileSync(timer, 'utf8');
      expect(timerText).toMatch(/^Persistent=true$/m);
      const calendars = [...timerText.matchAll(/^OnCalendar=(.+)$/gm)].map((m) => m[1]!);
      expect(calendars).toEqual([`*-*-01 00:01:00 ${timeZone}`]);
      for (const c of calendars) {
        const cal = spawnSync('systemd-analyze', ['calendar', c], { encoding: 'utf8' });
        expect(cal.status, cal.stderr).toBe(0);
        expect(cal.stdout).toContain(`Normalized form: ${c}`);
      }
      expect(readFileSync(service, 'utf8')).toMatch(
        new RegExp(`^EnvironmentFile=${project}/\\.env$`, 'm'),
      );
    });
  }

  it.skipIf(missing !== null)(
    'verify really checks: a unit whose node does not exist fails',
    () => {
      const dir = tempDir('qc-units-bad-');
      const ctx = scheduleContext(
        {
          target: 'systemd',
          projectDir: dir,
          node: '/nonexistent/bin/node',
          cli: CLI,
          envFile: false,
          systemTimeZone: 'UTC',
          user: 'root',
        },
        DEFAULT_SCHEDULE,
      );
      for (const f of generateSchedule(ctx).files) writeFileSync(join(dir, f.name), f.content);
      const verify = spawnSync(
        'systemd-analyze',
        ['verify', join(dir, 'quotaclock-reset.service')],
        { encoding: 'utf8' },
      );
      expect(verify.status).not.toBe(0);
      expect(verify.stderr).toMatch(/not executable/);
    },
  );
});

describe('windows: the task XML is well-formed and monthly', () => {
  let browser: Browser | null = null;
  const missing = existsSync('/usr/bin/chromium') ? null : requireTool('chromium');

  beforeAll(async () => {
    if (missing === null) {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-background-networking'],
      });
    }
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Parses with the browser's XML parser (a real one: malformed input yields <parsererror>). */
  async function inspect(xml: string) {
    const page = await browser!.newPage();
    try {
      return await page.evaluate(
        ({ xml, ns }) => {
          const doc = new DOMParser().parseFromString(xml, 'application/xml');
          const error = doc.getElementsByTagName('parsererror')[0]?.textContent ?? null;
          const all = (name: string) => Array.from(doc.getElementsByTagNameNS(ns, name));
          const text = (name: string) => all(name).map((e) => e.textContent?.trim() ?? '');
          return {
            error,
            root: doc.documentElement.localName,
            rootNs: doc.documentElement.namespaceURI,
            calendarTriggers: all('CalendarTrigger').length,
            scheduleKinds: all('CalendarTrigger').map((t) =>
              Array.from(t.children)
                .map((c) => c.localName)
                .filter((n) => n.startsWith('ScheduleBy')),
            ),
            days: text('Day'),
            months: all('Months').flatMap((m) => Array.from(m.children).map((c) => c.localName)),
            startBoundary: text('StartBoundary'),
            repetitions: all('Repetition').length,
            startWhenAvailable: text('StartWhenAvailable'),
            multipleInstances: text('MultipleInstancesPolicy'),
            restartInterval: text('Interval'),
            restartCount: text('Count'),
            logonType: text('LogonType'),
            command: text('Command'),
            args: text('Arguments'),
            workingDirectory: text('WorkingDirectory'),
          };
        },
        { xml, ns: TASK_NS },
      );
    } finally {
      await page.close();
    }
  }

  it.skipIf(missing !== null)(
    'has one monthly CalendarTrigger on day 1 and the required settings',
    async () => {
      const xml = generateSchedule(fixedContext('windows')).files[0]!.content;
      const t = await inspect(xml);
      expect(t.error).toBeNull();
      expect(t.root).toBe('Task');
      expect(t.rootNs).toBe(TASK_NS);
      expect(t.calendarTriggers).toBe(1);
      expect(t.scheduleKinds).toEqual([['ScheduleByMonth']]);
      expect(t.days).toEqual(['1']);
      expect(t.months).toHaveLength(12);
      expect(t.repetitions).toBe(0);
      expect(t.startBoundary).toEqual(['2000-01-01T00:01:00Z']);
      expect(t.startWhenAvailable).toEqual(['true']);
      expect(t.multipleInstances).toEqual(['IgnoreNew']);
      expect(t.restartInterval).toEqual(['PT5M']);
      expect(t.restartCount).toEqual(['3']);
      expect(t.logonType).toEqual(['S4U']);
      expect(t.command).toEqual(['C:\\Program Files\\nodejs\\node.exe']);
      expect(t.args[0]).toBe(
        '--env-file=C:\\srv\\app\\.env C:\\srv\\app\\node_modules\\quotaclock\\dist\\cli\\main.js reset --log-file C:\\srv\\app\\logs\\quota_reset.log',
      );
      expect(t.workingDirectory).toEqual(['C:\\srv\\app']);
    },
  );

  it.skipIf(missing !== null)(
    'the file schedule install writes is UTF-16 with a BOM and parses the same',
    async () => {
      const dir = tempDir('qc-windows-');
      const result = installWindows(fixedContext('windows', { timeZone: 'Europe/Berlin' }), {
        dir,
      });
      const bytes = readFileSync(result.where[0]!);
      expect([bytes[0], bytes[1]]).toEqual([0xff, 0xfe]);
      const t = await inspect(new TextDecoder('utf-16le').decode(bytes.subarray(2)));
      expect(t.error).toBeNull();
      expect(t.scheduleKinds).toEqual([['ScheduleByMonth']]);
      // Outside UTC the time is the machine's local time: no Z.
      expect(t.startBoundary).toEqual(['2000-01-01T00:01:00']);
      expect(result.next.join('\n')).toMatch(
        /schtasks \/Create \/TN quotaclock-reset \/XML .*quotaclock-reset\.xml \/F/,
      );
      expect(result.next.join('\n')).toMatch(
        /Register-ScheduledTask -TaskName 'quotaclock-reset' -Xml \(Get-Content -LiteralPath '.*' -Raw\) -Force/,
      );
    },
  );

  it.skipIf(missing !== null)(
    'expressions that need several triggers stay well-formed',
    async () => {
      const xml = generateSchedule(fixedContext('windows', { cron: '30 4 1,15,L * 5' })).files[0]!
        .content;
      const t = await inspect(xml);
      expect(t.error).toBeNull();
      expect(t.scheduleKinds).toEqual([['ScheduleByMonth'], ['ScheduleByWeek']]);
      expect(t.days).toEqual(['1', '15', 'Last']);
    },
  );
});

describe('k8s and the cloud artifacts are valid documents', () => {
  it('k8s: one YAML document, a batch/v1 CronJob with the required fields', () => {
    const text = generateSchedule(fixedContext('k8s', { timeZone: 'Europe/Berlin' })).files[0]!
      .content;
    const docs = parseAllDocuments(text);
    expect(docs).toHaveLength(1);
    expect(docs[0]!.errors).toEqual([]);
    const job = docs[0]!.toJS() as {
      apiVersion: string;
      kind: string;
      spec: {
        schedule: string;
        timeZone: string;
        concurrencyPolicy: string;
        startingDeadlineSeconds: number;
        jobTemplate: {
          spec: {
            template: {
              spec: {
                restartPolicy: string;
                containers: Array<{ command: string[]; envFrom: unknown[] }>;
              };
            };
          };
        };
      };
    };
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('CronJob');
    expect(job.spec.schedule).toBe('1 0 1 * *');
    expect(new Cron(job.spec.schedule, { paused: true }).getPattern()).toBe('1 0 1 * *');
    expect(job.spec.timeZone).toBe('Europe/Berlin');
    expect(job.spec.concurrencyPolicy).toBe('Forbid');
    expect(job.spec.startingDeadlineSeconds).toBeGreaterThan(0);
    const pod = job.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers[0]!.command).toEqual([
      'node',
      'node_modules/quotaclock/dist/cli/main.js',
      'reset',
    ]);
    expect(pod.containers[0]!.envFrom).toEqual([{ secretRef: { name: 'quotaclock-env' } }]);
  });

  it('aws: the SAM template parses, with EventBridge Scheduler in the zone and a retry policy', () => {
    const files = generateSchedule(fixedContext('aws', { timeZone: 'America/New_York' })).files;
    const tag = (name: string) => ({ tag: `!${name}`, resolve: (v: string) => ({ [name]: v }) });
    const template = parseYaml(files.find((f) => f.name === 'template.yaml')!.content, {
      customTags: [tag('Sub'), tag('Ref')],
    }) as {
      Transform: string;
      Resources: {
        QuotaclockReset: {
          Type: string;
          Properties: {
            Handler: string;
            Runtime: string;
            Events: Record<string, { Type: string; Properties: Record<string, unknown> }>;
          };
        };
      };
    };
    expect(template.Transform).toBe('AWS::Serverless-2016-10-31');
    const fn = template.Resources.QuotaclockReset;
    expect(fn.Type).toBe('AWS::Serverless::Function');
    expect(fn.Properties.Handler).toBe('index.handler');
    const event = fn.Properties.Events.MonthlyReset!;
    expect(event.Type).toBe('ScheduleV2');
    expect(event.Properties.ScheduleExpression).toBe('cron(1 0 1 * ? *)');
    expect(event.Properties.ScheduleExpressionTimezone).toBe('America/New_York');
    expect(event.Properties.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
    expect(event.Properties.RetryPolicy).toEqual({
      MaximumRetryAttempts: 3,
      MaximumEventAgeInSeconds: 3600,
    });
    expect(JSON.parse(event.Properties.Input as string)).toMatchObject({
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
    expect(files.find((f) => f.name === 'template.yaml')!.content).toMatch(
      /cron\(1 0 1 \* \? \*\), but a rule\n# always reads it in UTC/,
    );
    expect(files.find((f) => f.name === 'index.mjs')!.content).toContain(
      "export { handler } from 'quotaclock/aws';",
    );
  });

  it('azure: app.timer with NCRONTAB 0 1 0 1 * * and a valid host.json', () => {
    const files = generateSchedule(fixedContext('azure')).files;
    expect(files.find((f) => f.name === 'src/functions/quotaclockReset.js')!.content).toContain(
      "registerResetTimer({ name: 'quotaclockReset', schedule: '0 1 0 1 * *' });",
    );
    const host = JSON.parse(files.find((f) => f.name === 'host.json')!.content) as {
      version: string;
    };
    expect(host.version).toBe('2.0');
    const berlin = generateSchedule(fixedContext('azure', { timeZone: 'Europe/Berlin' })).files[0]!
      .content;
    expect(berlin).toMatch(/WEBSITE_TIME_ZONE is set: "Europe\/Berlin"/);
    expect(berlin).toMatch(/Linux Consumption and Flex Consumption plans ignore WEBSITE_TIME_ZONE/);
  });

  it('gcp: the deploy script is valid sh with --time-zone on an HTTP target', () => {
    const files = generateSchedule(fixedContext('gcp', { timeZone: 'Asia/Tokyo' })).files;
    const script = files.find((f) => f.name === 'deploy.sh')!.content;
    const dir = tempDir('qc-gcp-');
    writeFileSync(join(dir, 'deploy.sh'), script);
    const check = spawnSync('sh', ['-n', join(dir, 'deploy.sh')], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(script).toMatch(
      /gcloud scheduler jobs create http quotaclock-reset .*\n\s+--schedule='1 0 1 \* \*' --time-zone=Asia\/Tokyo/,
    );
    expect(script).toMatch(/--trigger-http --no-allow-unauthenticated/);
    expect(script).toMatch(/--oidc-service-account-email/);
  });
});
