import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadInputError } from '../core/errors.js';
import { canonicalTimeZone } from '../core/time-zone.js';
import { parseCron, TARGETS, type CronSpec, type Target } from './cron-spec.js';
import { systemTimeZone } from './system.js';

/** Everything a generator needs; every field is explicit so artifacts are reproducible. */
export interface ScheduleContext {
  readonly target: Target;
  readonly cron: CronSpec;
  /** Canonical IANA zone the expression is read in. */
  readonly timeZone: string;
  /** Unit, task, job and crontab-block name. */
  readonly name: string;
  /** Absolute; the job runs here, so the project's quotaclock.config.json is found. */
  readonly projectDir: string;
  readonly nodePath: string;
  readonly cliPath: string;
  /** Loaded by the job (node --env-file, EnvironmentFile=), never copied into the artifact. */
  readonly envFile: string | null;
  /** Passed as --config when the config is not the project's default file. */
  readonly configFile: string | null;
  /** Where cron redirects output and Task Scheduler's job writes its log. */
  readonly logFile: string;
  /** The zone the cron daemon runs in; CRON_TZ is written when it differs. */
  readonly systemTimeZone: string;
  /** systemd User=, Windows principal; null leaves the platform default. */
  readonly user: string | null;
  /** Kubernetes container image. */
  readonly image: string;
}

export interface ScheduleOptions {
  readonly target?: string;
  readonly cron?: string;
  readonly timeZone?: string;
  readonly name?: string;
  readonly projectDir?: string;
  readonly node?: string;
  readonly cli?: string;
  /** A path, or false for none; default: <project>/.env when it exists. */
  readonly envFile?: string | false;
  readonly config?: string;
  readonly jobLog?: string;
  readonly systemTimeZone?: string;
  readonly user?: string;
  readonly image?: string;
}

export const DEFAULT_NAME = 'quotaclock-reset';
export const DEFAULT_IMAGE = 'registry.example.com/your-app:latest';

/** Windows artifacts are usually generated elsewhere; this is the Node.js installer's default. */
const WINDOWS_NODE = 'C:\\Program Files\\nodejs\\node.exe';

function packageRoot(): string {
  // dist/schedule/context.js (or src/schedule/context.ts under the test runner) → the package root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The CLI entry of this installation: dist/cli/main.js, absolute. */
export function defaultCliPath(): string {
  return path.join(packageRoot(), 'dist', 'cli', 'main.js');
}

function defaultUser(): string | null {
  const sudo = process.env.SUDO_USER;
  if (sudo && sudo !== 'root') return sudo;
  try {
    const name = userInfo().username;
    return name === 'root' ? null : name;
  } catch {
    return null;
  }
}

export function parseTarget(value: unknown): Target {
  if (typeof value !== 'string' || !(TARGETS as readonly string[]).includes(value)) {
    throw new BadInputError(
      `--target: expected one of ${TARGETS.join(', ')}${value ? `, got "${String(value)}"` : ''}`,
      '--target',
    );
  }
  return value as Target;
}

/**
 * Builds the context from flags over the config's schedule. Paths default
 * to this machine (node running now, this installation's CLI, the current
 * directory); the Windows target defaults to the Windows installer's paths
 * when generated on another system.
 */
export function scheduleContext(
  opts: ScheduleOptions,
  schedule: { cron: string; timeZone: string },
): ScheduleContext {
  const target = parseTarget(opts.target);
  const cron = parseCron(opts.cron ?? schedule.cron, opts.cron ? '--cron' : 'schedule.cron');
  const timeZone = canonicalTimeZone(
    opts.timeZone ?? schedule.timeZone,
    opts.timeZone ? '--time-zone' : 'schedule.timeZone',
  );
  const name = opts.name ?? DEFAULT_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new BadInputError(
      '--name: expected letters, digits, "_", "." or "-" (it names a unit, a task and a crontab block)',
      '--name',
    );
  }
  const foreignWindows = target === 'windows' && process.platform !== 'win32';
  const p = foreignWindows ? path.win32 : path;
  // The current directory here is no Windows path, and guessing one would install a task that runs nowhere.
  if (foreignWindows && !opts.projectDir) {
    throw new BadInputError(
      `--project-dir: required for --target windows on ${process.platform} (the current directory is not a Windows path); pass the app's folder on the Windows machine, for example --project-dir C:\\srv\\app`,
      '--project-dir',
    );
  }
  const projectDir = p.resolve(opts.projectDir ?? process.cwd());
  const nodePath = opts.node ?? (foreignWindows ? WINDOWS_NODE : process.execPath);
  if (!p.isAbsolute(nodePath)) {
    throw new BadInputError(
      `--node: "${nodePath}" is not an absolute path (cron and Task Scheduler do not search PATH the way your shell does)`,
      '--node',
    );
  }
  const cliPath = opts.cli
    ? p.resolve(projectDir, opts.cli)
    : foreignWindows || opts.projectDir
      ? projectCli(p, projectDir)
      : defaultCliPath();
  let envFile: string | null = null;
  if (typeof opts.envFile === 'string') envFile = p.resolve(projectDir, opts.envFile);
  else if (opts.envFile !== false && !foreignWindows && existsSync(path.join(projectDir, '.env')))
    envFile = path.join(projectDir, '.env');
  const configFile = opts.config ? p.resolve(projectDir, opts.config) : null;
  const logFile = p.resolve(projectDir, opts.jobLog ?? p.join('logs', 'quota_reset.log'));
  return {
    target,
    cron,
    timeZone,
    name,
    projectDir,
    nodePath,
    cliPath,
    envFile,
    configFile,
    logFile,
    systemTimeZone: opts.systemTimeZone
      ? canonicalTimeZone(opts.systemTimeZone, '--system-time-zone')
      : systemTimeZone(),
    user: opts.user ?? (target === 'windows' ? null : defaultUser()),
    image: opts.image ?? DEFAULT_IMAGE,
  };
}

/** The CLI inside a project that depends on quotaclock, or this checkout when it is quotaclock itself. */
function projectCli(p: typeof path.posix | typeof path.win32, projectDir: string): string {
  const own = p.join(projectDir, 'dist', 'cli', 'main.js');
  if (p === path && existsSync(own) && existsSync(path.join(projectDir, 'src', 'cli', 'main.ts')))
    return own;
  return p.join(projectDir, 'node_modules', 'quotaclock', 'dist', 'cli', 'main.js');
}
