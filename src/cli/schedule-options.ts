import type { OptionSpec } from './command-spec.js';

/** Flags shared by `schedule print|install|uninstall`; declarations only (cold start stays small). */
export const SCHEDULE_OPTIONS: readonly OptionSpec[] = [
  { flags: '--target <target>', description: 'cron, systemd, windows, k8s, aws, azure or gcp' },
  {
    flags: '--cron <expr>',
    description: 'five-field cron expression (default: config schedule.cron, "1 0 1 * *")',
  },
  {
    flags: '--time-zone <zone>',
    description: 'IANA zone the expression is read in (default: config schedule.timeZone, UTC)',
  },
  {
    flags: '--name <name>',
    description: 'unit, task, job and crontab block name',
    default: 'quotaclock-reset',
  },
  {
    flags: '--project-dir <dir>',
    description:
      'where the job runs (default: the current directory; required for --target windows from another system)',
  },
  { flags: '--node <path>', description: 'absolute path of node (default: the node running now)' },
  {
    flags: '--cli <path>',
    description: "path of quotaclock's dist/cli/main.js (default: this installation)",
  },
  {
    flags: '--env-path <file>',
    description: 'variables the job loads (default: <project>/.env when it exists)',
  },
  { flags: '--no-env-path', description: 'load no env file' },
  // The old names. Node 20 reads --env-file anywhere on its command line (nodejs/node#54232)
  // and exits 9 when that file is not on this machine, so they only work where Node lets them through.
  { flags: '--env-file <file>', description: 'old name of --env-path', hidden: true },
  { flags: '--no-env-file', description: 'old name of --no-env-path', hidden: true },
  {
    flags: '--job-log <file>',
    description: "the job's log (default: <project>/logs/quota_reset.log)",
  },
  {
    flags: '--user <user>',
    description: "cron: whose crontab (root only); systemd: User=; windows: the task's account",
  },
  { flags: '--image <image>', description: "k8s: your app's container image" },
  {
    flags: '--system-time-zone <zone>',
    description: 'cron: the zone cron runs in (default: read from /etc/localtime)',
  },
];

/** The shared flags with --target described for one command (install does not take every target). */
export function withTargets(options: readonly OptionSpec[], targets: string): OptionSpec[] {
  return options.map((o) => (o.flags.startsWith('--target ') ? { ...o, description: targets } : o));
}

/** What uninstall reads: which target, which name, whose crontab, which folder. */
export const UNINSTALL_OPTIONS: readonly OptionSpec[] = [
  {
    flags: '--target <target>',
    description: 'cron, systemd or windows (for k8s, aws, azure, gcp it prints the removal steps)',
  },
  {
    flags: '--name <name>',
    description: 'unit, task and crontab block name',
    default: 'quotaclock-reset',
  },
  { flags: '--user <user>', description: 'cron: whose crontab (root only)' },
  {
    flags: '--dir <dir>',
    description: 'systemd: unit directory (default /etc/systemd/system); windows: where the XML is',
  },
];
