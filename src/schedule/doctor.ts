import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { QuotaClockConfig } from '../config/schema.js';
import { parseCron } from './cron-spec.js';
import { readBlock, readCrontab } from './crontab.js';
import { cronFlavor, cronRunning, sameZone, systemTimeZone } from './system.js';

/** cron's environment for a job: nothing from your shell. */
export const CRON_PATH = '/usr/bin:/bin';

export interface DoctorCheck {
  readonly check: string;
  readonly status: 'ok' | 'warning' | 'problem';
  readonly message: string;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly crontabOwner: string;
  /** The installed line, as found. */
  readonly line: string | null;
  /** What was run: env -i … sh -c '<command> --dry-run'. */
  readonly ran: string | null;
  readonly exitCode: number | null;
  /** The run's output, from the log it redirects to (or its stdout and stderr). */
  readonly output: string;
  readonly checks: readonly DoctorCheck[];
}

export interface DoctorOptions {
  readonly name: string;
  /** Whose crontab; default the caller's. Root can test another user's line as that user. */
  readonly crontabUser?: string | null;
  /** The crontab text, instead of `crontab -l` (tests). */
  readonly crontab?: string;
  /** Your interactive environment, to spot what cron will not have. */
  readonly shellEnv?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Whether a cron daemon runs here; default: looked up in /proc. */
  readonly cronRunning?: boolean;
}

/** Splits a POSIX shell word list: quotes and backslashes, no expansion. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      current += text.slice(i + 1, end === -1 ? undefined : end);
      i = end === -1 ? text.length : end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j += 1) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1]!)) j += 1;
        current += text[j];
      }
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[i + 1];
      i += 1;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** cron's % rule: \% is a %, the first bare % ends the command and the rest is its stdin. */
export function cronUnescape(command: string): { command: string; stdin: string | null } {
  let out = '';
  for (let i = 0; i < command.length; i += 1) {
    if (command[i] === '\\' && command[i + 1] === '%') {
      out += '%';
      i += 1;
    } else if (command[i] === '%') {
      return {
        command: out,
        stdin: command
          .slice(i + 1)
          .replace(/(?<!\\)%/g, '\n')
          .replace(/\\%/g, '%'),
      };
    } else out += command[i];
  }
  return { command: out, stdin: null };
}

const ENV_LINE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

function envValue(raw: string): string {
  const m = /^(['"])(.*)\1$/.exec(raw);
  return m ? m[2]! : raw;
}

function homeOf(user: string | null): { name: string; home: string } {
  if (!user) {
    const me = userInfo();
    return { name: me.username, home: me.homedir };
  }
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' });
  const fields = r.stdout.trim().split(':');
  return { name: user, home: fields[5] || '/' };
}

/** Env variables the job needs: every {"env": NAME} secret reference in the config. */
export function referencedEnv(config: unknown): string[] {
  const names = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.env === 'string' && Object.keys(o).length === 1) names.add(o.env);
      Object.values(o).forEach(walk);
    }
  };
  walk(config);
  return [...names].sort();
}

/** Files the job reads: {"file": path} secret references and *File settings in the config. */
export function referencedFiles(config: unknown): string[] {
  const files = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (typeof x === 'string' && (k === 'file' || /File$/.test(k)) && k !== 'logFile')
          files.add(x);
        else walk(x);
      }
    }
  };
  walk(config);
  return [...files].sort();
}

/**
 * Variables from your shell that change what the job does when cron lacks
 * them: the ones quotaclock reads (not QUOTACLOCK_NOW, a test clock) and the
 * usual store credentials.
 */
const SHELL_VARS =
  /^(QUOTACLOCK_(DB|CONFIG|LOG_FILE|LOG_LEVEL|HEARTBEAT_URL|WEBHOOK_URL|WEBHOOK_SECRET|FIRESTORE_BACKUP_DIR)|GOOGLE_APPLICATION_CREDENTIALS|FIRESTORE_EMULATOR_HOST|DATABASE_URL|PG(HOST|PORT|USER|PASSWORD|DATABASE|SSLMODE))$/;

function readTail(file: string, from: number): string {
  try {
    const size = statSync(file).size;
    if (size <= from) return '';
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(size - from, 64 * 1024));
      readSync(fd, buf, 0, buf.length, Math.max(from, size - buf.length));
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(command: string, pathVar: string): string | null {
  for (const dir of pathVar.split(':')) {
    const candidate = path.join(dir || '.', command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

type AddCheck = (check: string, status: DoctorCheck['status'], message: string) => void;

/** What the command line of the job says, read word by word. */
interface JobWords {
  readonly words: string[];
  /** Where the job runs: its `cd`, else cron's $HOME. */
  readonly cwd: string;
  readonly envFile: string | null;
  readonly fileEnv: Record<string, string>;
  readonly logFile: string | null;
}

/**
 * Runs the installed line the way cron runs it: a clean environment (HOME,
 * LOGNAME, PATH=/usr/bin:/bin, SHELL=/bin/sh plus the crontab's own
 * settings), /bin/sh -c, starting in $HOME, as the crontab's owner, with
 * --dry-run appended to the reset so nothing is written. Then says what
 * broke and why.
 */
export function cronDoctor(opts: DoctorOptions): DoctorReport {
  const checks: DoctorCheck[] = [];
  const add: AddCheck = (check, status, message) => checks.push({ check, status, message });
  const user = opts.crontabUser ?? null;
  const owner = homeOf(user);
  const crontab = opts.crontab ?? readCrontab(user);
  const block = readBlock(crontab, opts.name);
  const report = (extra: Partial<DoctorReport> = {}): DoctorReport => ({
    ok: !checks.some((c) => c.status === 'problem'),
    crontabOwner: owner.name,
    line: null,
    ran: null,
    exitCode: null,
    output: '',
    checks,
    ...extra,
  });
  if (!block) {
    add(
      'installed',
      'problem',
      `no "${opts.name}" block in the crontab of ${owner.name}; install it with \`quotaclock schedule install --target cron\``,
    );
    return report();
  }
  const { env, jobIndexInBlock } = cronEnvironment(crontab, block, owner);
  if (jobIndexInBlock === -1) {
    add(
      'installed',
      'problem',
      `the "${opts.name}" block has no job line; run \`quotaclock schedule install --target cron\` again`,
    );
    return report();
  }
  const line = block[jobIndexInBlock]!;
  checkSchedule(line, env, opts, add);
  const { command, stdin } = cronUnescape(line.trim().replace(/^(\S+\s+){5}/, ''));
  if (/\s--dry-run(\s|$)/.test(command)) {
    add('real run', 'problem', 'the installed line is a dry run: it would never reset anything');
  }
  const resetAt = /\sreset(?=\s|$)/.exec(command);
  if (!resetAt) {
    add('command', 'problem', 'the line does not run `quotaclock reset`');
    return report({ line });
  }
  const job = checkCommandWords(command, env, add);
  checkJobEnvironment(job, env, opts.shellEnv ?? process.env, add);
  // Now run it the way cron does.
  const end = resetAt.index + resetAt[0].length;
  const dryCommand = `${command.slice(0, end)} --dry-run${command.slice(end)}`;
  return report({ line, ...runAsCron(dryCommand, stdin, env, user, job.logFile, opts, add) });
}

/** cron's environment: its four variables, then every setting above the job line, in order. */
function cronEnvironment(
  crontab: string,
  block: readonly string[],
  owner: { name: string; home: string },
): { env: Record<string, string>; jobIndexInBlock: number } {
  const env: Record<string, string> = {
    HOME: owner.home,
    LOGNAME: owner.name,
    PATH: CRON_PATH,
    SHELL: '/bin/sh',
  };
  const allLines = crontab.replace(/\n$/, '').split('\n');
  const jobIndexInBlock = block.findIndex((l) => !/^\s*(#|$)/.test(l) && !ENV_LINE.test(l));
  const blockStart = allLines.indexOf(block[0]!);
  for (const l of allLines.slice(0, blockStart + Math.max(jobIndexInBlock, 0))) {
    const m = ENV_LINE.exec(l);
    if (m && !/^\s*#/.test(l) && m[1] !== 'LOGNAME') env[m[1]!] = envValue(m[2]!);
  }
  return { env, jobIndexInBlock };
}

/** The expression, the zone cron reads it in, and whether any cron daemon will run it. */
function checkSchedule(
  line: string,
  env: Record<string, string>,
  opts: DoctorOptions,
  add: AddCheck,
): void {
  const expression = line.trim().split(/\s+/).slice(0, 5).join(' ');
  try {
    parseCron(expression, 'crontab');
    add('schedule', 'ok', `"${expression}"${env.CRON_TZ ? ` in ${env.CRON_TZ}` : ''}`);
  } catch (e) {
    add('schedule', 'problem', (e as Error).message);
  }
  if (env.CRON_TZ && !sameZone(env.CRON_TZ, systemTimeZone()) && cronFlavor() === 'debian') {
    add(
      'time zone',
      'problem',
      `CRON_TZ=${env.CRON_TZ}, but this system's cron (Debian 3.0pl1) ignores CRON_TZ and runs the line in ${systemTimeZone()}; use --target systemd, \`quotaclock daemon\`, or --time-zone ${systemTimeZone()}`,
    );
  }
  // A line no daemon will ever run is as broken as one that fails: a problem, not a warning.
  const daemon = opts.cronRunning ?? cronRunning();
  add(
    'cron daemon',
    daemon ? 'ok' : 'problem',
    daemon
      ? 'a cron process is running'
      : 'no cron process is running: nothing will run the line (systemctl enable --now cron)',
  );
}

/** Static checks on the words of the command, for messages clearer than a shell error. */
function checkCommandWords(command: string, env: Record<string, string>, add: AddCheck): JobWords {
  const words = shellWords(command);
  const cdAt = words.indexOf('cd');
  const cwd = checkWorkingDirectory(words, cdAt, env, add);
  checkNode(words[cdAt === -1 ? 0 : cdAt + 3] ?? '', env, add);
  const { envFile, fileEnv } = checkEnvFile(words, cwd, add);
  const cli = words.find((w) => /(^|\/)main\.js$/.test(w) || /(^|\/)quotaclock$/.test(w));
  if (cli && cli.includes('/'))
    add(
      'quotaclock',
      existsSync(path.resolve(cwd, cli)) ? 'ok' : 'problem',
      existsSync(path.resolve(cwd, cli)) ? cli : `${cli}: missing (npm ci in the project?)`,
    );
  return { words, cwd, envFile, fileEnv, logFile: checkLog(words, cwd, add) };
}

function checkWorkingDirectory(
  words: readonly string[],
  cdAt: number,
  env: Record<string, string>,
  add: AddCheck,
): string {
  if (cdAt === -1 || !words[cdAt + 1]) {
    add(
      'working directory',
      'problem',
      `the line does not cd to the project: cron starts in ${env.HOME}, where quotaclock.config.json and relative paths are not found`,
    );
    return env.HOME!;
  }
  const dir = words[cdAt + 1]!;
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    add('working directory', 'ok', dir);
    return dir;
  }
  add('working directory', 'problem', `cd ${dir}: no such directory`);
  return env.HOME!;
}

function checkNode(program: string, env: Record<string, string>, add: AddCheck): void {
  if (program.includes('/')) {
    add(
      'node',
      isExecutable(program) ? 'ok' : 'problem',
      isExecutable(program) ? program : `${program}: not an executable file`,
    );
  } else if (program) {
    const found = onPath(program, env.PATH!);
    add(
      'node',
      found ? 'warning' : 'problem',
      found
        ? `"${program}" is found on cron's PATH as ${found}; an absolute path is safer`
        : `"${program}" is not on cron's PATH (${env.PATH}); use the absolute path (\`which ${program}\` in your shell)`,
    );
  }
}

function checkEnvFile(
  words: readonly string[],
  cwd: string,
  add: AddCheck,
): { envFile: string | null; fileEnv: Record<string, string> } {
  const envFileWord = words.find((w) => w.startsWith('--env-file='));
  const envFile = envFileWord ? path.resolve(cwd, envFileWord.slice('--env-file='.length)) : null;
  if (!envFile) return { envFile, fileEnv: {} };
  try {
    const fileEnv = parseEnv(readFileSync(envFile, 'utf8')) as Record<string, string>;
    add(
      'env file',
      'ok',
      `${envFile} (${Object.keys(fileEnv).length} variable(s), loaded by node, not copied into the crontab)`,
    );
    return { envFile, fileEnv };
  } catch (e) {
    add(
      'env file',
      'problem',
      `${envFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`,
    );
    return { envFile, fileEnv: {} };
  }
}

function checkLog(words: readonly string[], cwd: string, add: AddCheck): string | null {
  const redirectAt = words.indexOf('>>');
  const logFile =
    redirectAt !== -1 && words[redirectAt + 1] ? path.resolve(cwd, words[redirectAt + 1]!) : null;
  if (!logFile) {
    add('log', 'warning', 'the output is not redirected to a log file; cron mails it, or drops it');
    return null;
  }
  const dir = path.dirname(logFile);
  let writable = false;
  try {
    accessSync(dir, constants.W_OK);
    writable = true;
  } catch {
    // reported below
  }
  add(
    'log',
    writable ? 'ok' : 'problem',
    writable
      ? logFile
      : `${dir}: missing or not writable, so the shell cannot open the log and the job does not start`,
  );
  return logFile;
}

/** What the job will see (cron's variables plus the env file) against the config and your shell. */
function checkJobEnvironment(
  job: JobWords,
  env: Record<string, string>,
  shellEnv: NodeJS.ProcessEnv,
  add: AddCheck,
): void {
  const { words, cwd, envFile } = job;
  const jobEnv: NodeJS.ProcessEnv = { ...env, ...job.fileEnv };
  let config: QuotaClockConfig | null = null;
  const configWordAt = words.indexOf('--config');
  try {
    config = loadConfig({
      cwd,
      env: jobEnv,
      ...(configWordAt !== -1 && words[configWordAt + 1] ? { file: words[configWordAt + 1] } : {}),
    }).config;
    add('config', 'ok', `store ${redactStore(config.store)}`);
  } catch (e) {
    add('config', 'problem', `as the job sees it: ${(e as Error).message}`);
  }
  const where = envFile ?? 'an env file (schedule install --env-path)';
  for (const name of config ? referencedEnv(config) : []) {
    if (jobEnv[name] === undefined) {
      add(
        'env',
        'problem',
        `the config reads ${name}, which the job will not have${shellEnv[name] !== undefined ? ' (your shell has it)' : ''}; add it to ${where}`,
      );
    }
  }
  for (const name of Object.keys(shellEnv)
    .filter((k) => SHELL_VARS.test(k))
    .sort()) {
    if (jobEnv[name] === undefined) {
      add(
        'env',
        'problem',
        `${name} is set in your shell but cron will not have it, so the job would behave differently; add it to ${where}`,
      );
    } else if (jobEnv[name] !== shellEnv[name]) {
      add('env', 'warning', `${name} differs between your shell and the job's environment`);
    }
  }
  checkCredentials(config, jobEnv, cwd, add);
}

function checkCredentials(
  config: QuotaClockConfig | null,
  jobEnv: NodeJS.ProcessEnv,
  cwd: string,
  add: AddCheck,
): void {
  const credentialFiles = [
    ...(config ? referencedFiles(config) : []),
    ...(jobEnv.GOOGLE_APPLICATION_CREDENTIALS ? [jobEnv.GOOGLE_APPLICATION_CREDENTIALS] : []),
  ];
  for (const f of credentialFiles) {
    const abs = path.resolve(cwd, f);
    try {
      accessSync(abs, constants.R_OK);
      add('credentials', 'ok', abs);
    } catch {
      add(
        'credentials',
        'problem',
        `${abs}: missing or unreadable${path.isAbsolute(f) ? '' : ` (relative to ${cwd})`}`,
      );
    }
  }
}

/** `env -i … sh -c '<line> --dry-run'`, as the crontab's owner, starting in $HOME. */
function runAsCron(
  dryCommand: string,
  stdin: string | null | undefined,
  env: Record<string, string>,
  user: string | null,
  logFile: string | null,
  opts: DoctorOptions,
  add: AddCheck,
): Pick<DoctorReport, 'ran' | 'exitCode' | 'output'> {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const shell = env.SHELL || '/bin/sh';
  const argv = ['env', '-i', ...envArgs, shell, '-c', dryCommand];
  const asOther = user && process.getuid?.() === 0 && user !== userInfo().username;
  const full = asOther ? ['runuser', '-u', user, '--', ...argv] : argv;
  const before = logFile ? sizeOf(logFile) : 0;
  const run = spawnSync(full[0]!, full.slice(1), {
    cwd: existsSync(env.HOME!) ? env.HOME : '/',
    encoding: 'utf8',
    input: stdin ?? '',
    timeout: opts.timeoutMs ?? 300_000,
  });
  const logged = logFile ? readTail(logFile, before) : '';
  const output = [run.stdout, run.stderr, logged].filter(Boolean).join('\n').trim();
  const exitCode = run.status;
  if (run.error) add('run', 'problem', `could not run the line: ${run.error.message}`);
  else if (exitCode === 0)
    add('run', 'ok', 'the line ran as cron runs it and the dry run succeeded');
  else add('run', 'problem', explain(exitCode, output));
  return {
    ran: `${full.slice(0, full.indexOf('-c') + 1).join(' ')} '${dryCommand}'`,
    exitCode,
    output,
  };
}

function redactStore(url: string): string {
  return url.replace(/(:\/\/[^:/@]+):[^@/]*@/, '$1:[redacted]@');
}

/** A shell or quotaclock failure, in words. */
function explain(code: number | null, output: string): string {
  const tail = output.split('\n').slice(-3).join(' | ');
  if (code === 127 || (/not found/.test(output) && /: \d+: /.test(output))) {
    return `exit ${code}: a program was not found with cron's PATH=${CRON_PATH} (${tail})`;
  }
  if (/can't cd|cd: .*No such file/.test(output))
    return `exit ${code}: the working directory is wrong (${tail})`;
  if (/--env-file|\.env: not found/.test(output))
    return `exit ${code}: the env file could not be loaded (${tail})`;
  const qc = /quotaclock: error: (.*)/.exec(output);
  if (qc) return `exit ${code}: ${qc[1]}`;
  return `exit ${code}: ${tail || 'no output'}`;
}
