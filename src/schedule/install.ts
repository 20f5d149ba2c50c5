import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, existsSync, chownSync } from 'node:fs';
import path from 'node:path';
import { QuotaClockError } from '../core/errors.js';
import type { ScheduleContext } from './context.js';
import { readCrontab, removeBlock, upsertBlock, writeCrontab } from './crontab.js';
import { cronFlavor, sameZone } from './system.js';
import { cronBlock } from './targets/cron.js';
import { DEFAULT_SYSTEMD_DIR, systemdService, systemdTimer } from './targets/systemd.js';
import { powershellCommand, schtasksCommand, windowsXml } from './targets/windows.js';

export interface InstallResult {
  readonly target: string;
  readonly action: 'installed' | 'replaced' | 'removed' | 'absent';
  /** Files written or removed, or "crontab" (of whom). */
  readonly where: readonly string[];
  /** What the operator runs next. */
  readonly next: readonly string[];
  readonly warnings: readonly string[];
}

export interface InstallOptions {
  /** Whose crontab (root only); default: the caller's. */
  readonly crontabUser?: string | null;
  /** Where unit files or the task XML go. */
  readonly dir?: string;
}

function lookupIds(user: string): { uid: number; gid: number } | null {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return null;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function assertCrontabUser(user: string | null): void {
  if (!user) return;
  if (process.getuid?.() !== 0) {
    throw new QuotaClockError(
      'SCHEDULE_FAILED',
      `--user ${user}: only root can edit another user's crontab`,
      { where: '--user' },
    );
  }
  if (!lookupIds(user))
    throw new QuotaClockError('SCHEDULE_FAILED', `--user ${user}: no such user`, {
      where: '--user',
    });
}

/** Writes or replaces quotaclock's block in a crontab; no other line changes. */
export function installCron(ctx: ScheduleContext, opts: InstallOptions = {}): InstallResult {
  const user = opts.crontabUser ?? null;
  assertCrontabUser(user);
  const logDir = path.dirname(ctx.logFile);
  mkdirSync(logDir, { recursive: true });
  if (user) {
    const ids = lookupIds(user)!;
    chownSync(logDir, ids.uid, ids.gid);
  }
  const { text, replaced } = upsertBlock(readCrontab(user), ctx.name, cronBlock(ctx));
  writeCrontab(text, user);
  const warnings: string[] = [];
  if (!sameZone(ctx.timeZone, ctx.systemTimeZone) && cronFlavor() === 'debian') {
    warnings.push(
      `this system's cron (Debian 3.0pl1) ignores CRON_TZ: the line runs in ${ctx.systemTimeZone}, not ${ctx.timeZone}; use --target systemd or \`quotaclock daemon\`, or --time-zone ${ctx.systemTimeZone}`,
    );
  }
  return {
    target: 'cron',
    action: replaced ? 'replaced' : 'installed',
    where: [`crontab of ${user ?? 'the current user'}`],
    next: [
      `quotaclock schedule doctor --target cron${user ? ` --user ${user}` : ''}`,
      `crontab ${user ? `-u ${user} ` : ''}-l`,
    ],
    warnings,
  };
}

export function uninstallCron(ctx: UninstallTarget, opts: InstallOptions = {}): InstallResult {
  const user = opts.crontabUser ?? null;
  assertCrontabUser(user);
  const { text, removed } = removeBlock(readCrontab(user), ctx.name);
  if (removed) writeCrontab(text, user);
  return {
    target: 'cron',
    action: removed ? 'removed' : 'absent',
    where: [`crontab of ${user ?? 'the current user'}`],
    next: [],
    warnings: [],
  };
}

export function installSystemd(ctx: ScheduleContext, opts: InstallOptions = {}): InstallResult {
  const dir = path.resolve(opts.dir ?? DEFAULT_SYSTEMD_DIR);
  const service = path.join(dir, `${ctx.name}.service`);
  const timer = path.join(dir, `${ctx.name}.timer`);
  const replaced = existsSync(service) || existsSync(timer);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(service, systemdService(ctx), { mode: 0o644 });
    writeFileSync(timer, systemdTimer(ctx), { mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new QuotaClockError(
      'SCHEDULE_FAILED',
      `cannot write the units to ${dir} (${code ?? (e as Error).message})${code === 'EACCES' ? ': run it with sudo, or pass --dir' : ''}`,
      { where: '--dir', cause: e },
    );
  }
  const system = dir === DEFAULT_SYSTEMD_DIR;
  return {
    target: 'systemd',
    action: replaced ? 'replaced' : 'installed',
    where: [service, timer],
    next: system
      ? [
          'systemctl daemon-reload',
          `systemctl enable --now ${ctx.name}.timer`,
          `systemctl list-timers ${ctx.name}.timer`,
        ]
      : [
          `systemd-analyze verify ${service} ${timer}`,
          `copy both files to ${DEFAULT_SYSTEMD_DIR} (or ~/.config/systemd/user), then: systemctl daemon-reload && systemctl enable --now ${ctx.name}.timer`,
        ],
    warnings: [],
  };
}

export function uninstallSystemd(ctx: UninstallTarget, opts: InstallOptions = {}): InstallResult {
  const dir = path.resolve(opts.dir ?? DEFAULT_SYSTEMD_DIR);
  const files = [path.join(dir, `${ctx.name}.timer`), path.join(dir, `${ctx.name}.service`)];
  const present = files.filter((f) => existsSync(f));
  const system = dir === DEFAULT_SYSTEMD_DIR;
  if (present.length && system) {
    // Stop the timer first, so systemd does not keep a unit whose file is gone.
    spawnSync('systemctl', ['disable', '--now', `${ctx.name}.timer`], { stdio: 'ignore' });
  }
  for (const f of present) rmSync(f);
  return {
    target: 'systemd',
    action: present.length ? 'removed' : 'absent',
    where: present,
    next: present.length && system ? ['systemctl daemon-reload'] : [],
    warnings: [],
  };
}

/** Task Scheduler's own export format: UTF-16 little endian with a byte order mark. */
export function installWindows(ctx: ScheduleContext, opts: InstallOptions = {}): InstallResult {
  const dir = path.resolve(opts.dir ?? process.cwd());
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${ctx.name}.xml`);
  const replaced = existsSync(file);
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(windowsXml(ctx).replace(/\n/g, '\r\n'), 'utf16le'),
    ]),
  );
  const where =
    process.platform === 'win32' ? file : path.win32.join(ctx.projectDir, `${ctx.name}.xml`);
  return {
    target: 'windows',
    action: replaced ? 'replaced' : 'installed',
    where: [file],
    next: [
      ...(process.platform === 'win32'
        ? []
        : [`copy ${file} to ${where} on the Windows machine, then, from an elevated prompt:`]),
      schtasksCommand(ctx, where),
      `or, in PowerShell: ${powershellCommand(ctx, where)}`,
    ],
    warnings: [],
  };
}

export function uninstallWindows(ctx: UninstallTarget, opts: InstallOptions = {}): InstallResult {
  const dir = path.resolve(opts.dir ?? process.cwd());
  const file = path.join(dir, `${ctx.name}.xml`);
  const present = existsSync(file);
  if (present) rmSync(file);
  return {
    target: 'windows',
    action: present ? 'removed' : 'absent',
    where: present ? [file] : [],
    next: [
      `schtasks /Delete /TN "${ctx.name}" /F`,
      `or, in PowerShell: Unregister-ScheduledTask -TaskName '${ctx.name}' -Confirm:$false`,
    ],
    warnings: [],
  };
}

export function installSchedule(ctx: ScheduleContext, opts: InstallOptions = {}): InstallResult {
  switch (ctx.target) {
    case 'cron':
      return installCron(ctx, opts);
    case 'systemd':
      return installSystemd(ctx, opts);
    case 'windows':
      return installWindows(ctx, opts);
    default:
      return notInstalledHere('install', ctx.target, DEPLOY_STEPS[ctx.target]!(ctx.name));
  }
}

/** What uninstall needs: which target and which name; nothing else of the schedule. */
export type UninstallTarget = Pick<ScheduleContext, 'target' | 'name'>;

/** The steps that deploy a cloud or cluster artifact: quotaclock prints them, the platform's own tool runs them. */
const DEPLOY_STEPS: Record<string, (name: string) => string[]> = {
  k8s: () => ['quotaclock schedule print --target k8s | kubectl apply -f -'],
  aws: () => [
    'quotaclock schedule print --target aws   # template.yaml and index.mjs, as in examples/aws',
    'sam build --use-container && sam deploy --guided',
  ],
  azure: () => [
    'quotaclock schedule print --target azure   # as in examples/azure',
    'npm install && func azure functionapp publish <app-name>',
  ],
  gcp: () => [
    'quotaclock schedule print --target gcp   # deploy.sh and index.js, as in examples/gcp',
    'PROJECT_ID=my-project sh deploy.sh',
  ],
};

const REMOVE_STEPS: Record<string, (name: string) => string[]> = {
  k8s: (name) => [`kubectl delete cronjob ${name}`],
  aws: () => ['sam delete --stack-name <stack>'],
  azure: () => [
    'func azure functionapp publish <app-name>   # after deleting src/functions/quotaclockReset.js',
  ],
  gcp: (name) => [
    `gcloud scheduler jobs delete ${name} --location=<region>`,
    `gcloud functions delete ${name} --gen2 --region=<region>`,
  ],
};

function notInstalledHere(verb: 'install' | 'uninstall', target: string, steps: string[]): never {
  throw new QuotaClockError(
    'SCHEDULE_UNSUPPORTED',
    `--target ${target}: quotaclock does not ${verb} on ${target} itself (${verb} works for cron, systemd and windows); run:\n  ${steps.join('\n  ')}`,
    { where: '--target', details: steps },
  );
}

export function uninstallSchedule(ctx: UninstallTarget, opts: InstallOptions = {}): InstallResult {
  switch (ctx.target) {
    case 'cron':
      return uninstallCron(ctx, opts);
    case 'systemd':
      return uninstallSystemd(ctx, opts);
    case 'windows':
      return uninstallWindows(ctx, opts);
    default:
      return notInstalledHere('uninstall', ctx.target, REMOVE_STEPS[ctx.target]!(ctx.name));
  }
}
