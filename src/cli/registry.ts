/**
 * The command table. Declarations only: each implementation is imported when
 * its command runs, which keeps `quotaclock status` cold start small.
 */
import type { CommandSpec } from './command-spec.js';
import { SCHEDULE_OPTIONS, UNINSTALL_OPTIONS, withTargets } from './schedule-options.js';

export type { CommandSpec, OptionSpec } from './command-spec.js';

export const COMMANDS: readonly CommandSpec[] = [
  {
    path: 'init',
    description: 'create or upgrade the schema (idempotent)',
    examples: ['quotaclock init', 'quotaclock init --db postgres://127.0.0.1/test'],
    module: 'init',
    createsStore: true,
  },
  {
    path: 'plans',
    description: 'list plans and their limits',
    examples: ['quotaclock plans', 'quotaclock plans --json'],
    module: 'plans',
  },
  {
    path: 'users add',
    args: '<id>',
    description: 'add a subject',
    options: [
      { flags: '--plan <plan>', description: 'plan name (default: the config default plan)' },
      { flags: '--time-zone <zone>', description: 'IANA time zone for this subject’s periods' },
      { flags: '--email <email>', description: 'email address' },
      { flags: '--name <name>', description: 'display name' },
      {
        flags: '--anchor <iso>',
        description: 'signup instant that anniversary periods count from',
      },
    ],
    examples: [
      'quotaclock users add alice --plan pro --time-zone Europe/Berlin --email alice@example.com',
    ],
    module: 'users-add',
  },
  {
    path: 'users import',
    args: '<file>',
    description: 'bulk add or update subjects from CSV or JSONL, all or nothing',
    options: [{ flags: '--dry-run', description: 'check every row and report, write nothing' }],
    examples: [
      'quotaclock users import users.csv --dry-run',
      'quotaclock users import firestore-export.jsonl',
    ],
    module: 'users-import',
    createsStore: true,
  },
  {
    path: 'users list',
    description: 'list subjects, a page at a time',
    options: [
      { flags: '--plan <plan>', description: 'only this plan' },
      { flags: '--at-limit', description: 'only subjects at their limit in their current period' },
      { flags: '--limit <n>', description: 'page size', default: '100' },
      { flags: '--after <id>', description: 'start after this id (from the previous page)' },
      { flags: '--search <prefix>', description: 'only ids or emails starting with this' },
    ],
    examples: [
      'quotaclock users list --plan pro',
      'quotaclock users list --search alice@',
      'quotaclock users list --at-limit --json',
    ],
    module: 'users-list',
  },
  {
    path: 'users show',
    args: '<id>',
    description: 'show one subject',
    examples: ['quotaclock users show alice'],
    module: 'users-show',
  },
  {
    path: 'users set-plan',
    args: '<id> <plan>',
    description: 'change a subject’s plan (takes effect at once)',
    examples: ['quotaclock users set-plan alice pro_plus'],
    module: 'users-set-plan',
  },
  {
    path: 'users set-limit',
    args: '<id> <feature> <limit>',
    description:
      'override one limit for one subject: a number, "unlimited", or "plan" to remove the override',
    examples: [
      'quotaclock users set-limit alice stock_reports 60',
      'quotaclock users set-limit alice stock_reports plan',
    ],
    module: 'users-set-limit',
  },
  {
    path: 'users suspend',
    args: '<id>',
    description: 'suspend a subject: every consume is refused (exit 4)',
    options: [{ flags: '--reason <text>', description: 'why, kept in the audit log' }],
    examples: ['quotaclock users suspend mallory --reason "chargeback"'],
    module: 'users-suspend',
  },
  {
    path: 'users unsuspend',
    args: '<id>',
    description: 'lift a suspension',
    examples: ['quotaclock users unsuspend mallory'],
    module: 'users-unsuspend',
  },
  {
    path: 'users reset',
    args: '[id]',
    description: 'manual mid-period reset of one subject or many (audited, batched, resumable)',
    options: [
      { flags: '--all', description: 'every subject (with --plan, every subject on that plan)' },
      { flags: '--plan <plan>', description: 'with --all: only this plan' },
      {
        flags: '--reason <text>',
        description: 'why, kept with each event; a rerun with the same reason resumes',
      },
      { flags: '--dry-run', description: 'report what would be cleared, write nothing' },
      {
        flags: '--force',
        description: 'with --all: go ahead even though --now is after the wall clock',
      },
    ],
    examples: [
      'quotaclock users reset alice --reason "support ticket 4411"',
      'quotaclock users reset --all --plan pro --dry-run',
    ],
    module: 'users-reset',
  },
  {
    path: 'keys create',
    description: 'create an API key for `quotaclock serve`; the key is printed once',
    options: [
      { flags: '--name <name>', description: 'who uses the key (shown in the audit log)' },
      {
        flags: '--scope <scope>',
        description: 'quota:read, quota:write, admin:read or admin:write (repeatable)',
        repeat: true,
      },
    ],
    examples: [
      'quotaclock keys create --name web --scope quota:write',
      'quotaclock keys create --name support --scope admin:write --json',
    ],
    module: 'keys-create',
    createsStore: true,
  },
  {
    path: 'keys list',
    description: 'list API keys (never the key itself)',
    examples: ['quotaclock keys list', 'quotaclock keys list --json'],
    module: 'keys-list',
  },
  {
    path: 'keys revoke',
    args: '<id>',
    description: 'revoke an API key by its id or its prefix; it stops working at once',
    examples: [
      'quotaclock keys revoke key_3f2a9c1e5b7d4a60',
      'quotaclock keys revoke qck_Ab3dE6gH',
    ],
    module: 'keys-revoke',
  },
  {
    path: 'audit',
    description: 'the audit log of admin writes, newest first, a page at a time',
    options: [
      { flags: '--subject <id>', description: 'only entries about this subject' },
      { flags: '--actor <name>', description: 'only entries by this actor (a key name, or cli)' },
      { flags: '--limit <n>', description: 'page size', default: '50' },
      { flags: '--after <cursor>', description: 'the next page (from the previous page)' },
    ],
    examples: ['quotaclock audit --subject alice', 'quotaclock audit --actor web --json'],
    module: 'audit',
  },
  {
    path: 'consume',
    args: '<id> <feature>',
    description: 'take units of a feature: exit 0 granted, 3 quota exceeded, 4 suspended',
    options: [
      { flags: '--amount <n>', description: 'units to take', default: '1' },
      {
        flags: '--key <key>',
        description: 'idempotency key: a retry with the same key counts once',
      },
      {
        flags: '--meta <k=v>',
        description: 'metadata kept with the event (repeatable)',
        repeat: true,
      },
    ],
    examples: [
      'quotaclock consume alice stock_reports --key report-8812 --meta ticker=AAPL --meta report_id=8812',
    ],
    module: 'consume',
  },
  {
    path: 'refund',
    args: '<id>',
    description: 'undo one consume, in the period where it happened',
    options: [
      { flags: '--key <key>', description: 'the idempotency key of the consume (required)' },
    ],
    examples: ['quotaclock refund alice --key report-8812'],
    module: 'refund',
  },
  {
    path: 'status',
    args: '<id>',
    description:
      'the subject’s current period, limits, usage and remaining (exit 2 for an unknown subject)',
    options: [
      {
        flags: '--as-new',
        description: 'for an unknown subject, show what a new one would get instead of exit 2',
      },
    ],
    examples: [
      'quotaclock status alice',
      'quotaclock status alice --json --now 2026-11-30T23:59:00Z',
      'quotaclock status newcomer --as-new',
    ],
    module: 'status',
  },
  {
    path: 'history',
    args: '<id>',
    description: 'usage per period, newest first',
    examples: ['quotaclock history alice'],
    module: 'history',
  },
  {
    path: 'reset',
    description: 'close every ended period, oldest first, with catch-up; safe to run again',
    options: [
      { flags: '--dry-run', description: 'report exactly what would be closed, write nothing' },
      {
        flags: '--force-period <key>',
        description: 'only this period key, re-checked even if the ledger says closed',
      },
      {
        flags: '--execute',
        description: 'the old reset script’s flag; quotaclock resets for real by default',
        hidden: true,
      },
      {
        flags: '--shard <i/n>',
        description:
          'close as worker i of n (0 ≤ i < n) in parallel; stores with sharded close only (PostgreSQL)',
      },
      {
        flags: '--force',
        description:
          'close periods that end after the wall clock (a --now ahead of it); refused without it',
      },
    ],
    examples: [
      'quotaclock reset --dry-run',
      'quotaclock reset --log-file logs/quota_reset.log',
      'quotaclock reset --force-period 2026-10',
      'quotaclock reset --shard 0/4',
    ],
    module: 'reset',
  },
  {
    path: 'verify',
    description: 'check invariants and configuration: exit 0 clean, 1 violations found',
    examples: ['quotaclock verify', 'quotaclock verify --json'],
    module: 'verify',
  },
  {
    path: 'runs',
    description: 'the run ledger, newest period first',
    options: [{ flags: '--limit <n>', description: 'how many', default: '24' }],
    examples: ['quotaclock runs'],
    module: 'runs',
  },
  {
    path: 'backup',
    description: 'portable, versioned JSONL export of everything',
    options: [
      {
        flags: '--out <file>',
        description:
          'write here (atomically, making the folder) instead of stdout; --json then prints the summary',
      },
    ],
    examples: [
      'quotaclock backup --out backups/2026-11-01.jsonl',
      'quotaclock backup --out backups/2026-11-01.jsonl --json',
      'quotaclock backup > backup.jsonl',
    ],
    module: 'backup',
  },
  {
    path: 'restore',
    args: '<file>',
    description: 'import a backup into an empty store (any engine), all or nothing',
    examples: ['quotaclock restore backups/2026-11-01.jsonl --db postgres://127.0.0.1/test'],
    module: 'restore',
    createsStore: true,
  },
  {
    path: 'demo',
    description: 'set up a local SQLite demo and show the whole monthly cycle',
    options: [
      {
        flags: '--dir <dir>',
        description: 'where the demo database goes',
        default: '.quotaclock-demo',
      },
    ],
    examples: ['npx quotaclock demo'],
    module: 'demo',
  },
  {
    path: 'notify test',
    description:
      'send a test message to every configured notification target, and a heartbeat success ping',
    options: [{ flags: '--no-heartbeat', description: 'do not ping the heartbeat URL' }],
    examples: ['quotaclock notify test', 'quotaclock notify test --json'],
    module: 'notify-test',
  },
  {
    path: 'report',
    description:
      'usage report: utilisation per plan, top consumers, subjects near their limit, usage per day, trend',
    options: [
      {
        flags: '--period <key>',
        description: 'a period key such as 2026-11 (default: the current period, to date)',
      },
      {
        flags: '--last <window>',
        description: 'the whole days before today instead of a period: 7d, 2w',
      },
      { flags: '--format <format>', description: 'text, html, json or csv', default: 'text' },
      {
        flags: '--top <n>',
        description: 'how many top consumers and near-limit subjects to list',
        default: '10',
      },
      { flags: '--out <file>', description: 'write the report to this file instead of stdout' },
      {
        flags: '--send',
        description: 'also send it to the notification targets (email: HTML with the chart inline)',
      },
    ],
    examples: [
      'quotaclock report',
      'quotaclock report --period 2026-10 --format html --out report-2026-10.html',
      'quotaclock report --last 7d --send',
      'quotaclock report --format csv > usage.csv',
    ],
    module: 'report',
  },
  {
    path: 'metrics',
    description:
      'Prometheus text: last successful reset per period, run duration, subjects closed, consume totals, notifier failures',
    options: [
      {
        flags: '--out <file>',
        description: 'write it atomically here (node_exporter textfile collector)',
      },
    ],
    examples: [
      'quotaclock metrics',
      'quotaclock metrics --out /var/lib/node_exporter/textfile_collector/quotaclock.prom',
    ],
    module: 'metrics',
  },
  {
    path: 'schedule print',
    description:
      'print the schedule for a platform: crontab block, systemd units, Task Scheduler XML, CronJob, or a cloud project',
    options: SCHEDULE_OPTIONS,
    examples: [
      'quotaclock schedule print --target cron',
      'quotaclock schedule print --target k8s --time-zone Europe/Berlin | kubectl apply -f -',
    ],
    module: 'schedule-print',
  },
  {
    path: 'schedule install',
    description:
      'install the schedule: a crontab block (idempotent), systemd unit files, or the Task Scheduler XML',
    options: [
      ...withTargets(
        SCHEDULE_OPTIONS,
        'cron, systemd or windows (for k8s, aws, azure, gcp it prints the deploy steps)',
      ),
      {
        flags: '--dir <dir>',
        description:
          'systemd: unit directory (default /etc/systemd/system); windows: where the XML goes',
      },
    ],
    examples: [
      'quotaclock schedule install --target cron',
      'sudo quotaclock schedule install --target systemd --user app',
    ],
    module: 'schedule-install',
  },
  {
    path: 'schedule uninstall',
    description: 'remove what schedule install wrote; no other crontab line is touched',
    options: UNINSTALL_OPTIONS,
    examples: [
      'quotaclock schedule uninstall --target cron',
      'sudo quotaclock schedule uninstall --target systemd',
    ],
    module: 'schedule-uninstall',
  },
  {
    path: 'schedule doctor',
    description:
      'run the installed crontab line the way cron does (env -i, --dry-run) and report what breaks: exit 1 on problems',
    options: [
      { flags: '--target <target>', description: 'cron', default: 'cron' },
      {
        flags: '--name <name>',
        description: 'the crontab block to test',
        default: 'quotaclock-reset',
      },
      {
        flags: '--user <user>',
        description: 'whose crontab (root only); the line runs as that user',
      },
    ],
    examples: ['quotaclock schedule doctor', 'sudo quotaclock schedule doctor --user app'],
    module: 'schedule-doctor',
  },
  {
    path: 'daemon',
    description:
      'built-in scheduler for hosts without cron: catches up at start and hourly, resets on schedule.cron',
    options: [
      { flags: '--cron <expr>', description: 'override schedule.cron' },
      { flags: '--time-zone <zone>', description: 'override schedule.timeZone' },
      {
        flags: '--port <port>',
        description: 'serve GET /healthz on this port (no server without it)',
      },
      {
        flags: '--host <address>',
        description: 'address to listen on with --port',
        default: '127.0.0.1',
      },
      { flags: '--once', description: 'one catch-up check, then exit (0 ok, 1 failed)' },
    ],
    examples: [
      'quotaclock daemon',
      'quotaclock daemon --port 9464 --host 0.0.0.0',
      'quotaclock daemon --once',
    ],
    module: 'daemon',
  },
  {
    path: 'serve',
    description:
      'the HTTP API (/v1, /v1/admin), with /healthz, /readyz, /metrics and /openapi.json; needs a key from `keys create`',
    options: [
      { flags: '--host <address>', description: 'address to listen on', default: '127.0.0.1' },
      {
        flags: '--port <port>',
        description: 'port to listen on (0: any free port)',
        default: '8787',
      },
      {
        flags: '--workers <n>',
        description: 'processes sharing the port (node:cluster); 1 runs in this process',
        default: '1',
      },
      {
        flags: '--schedule',
        description: 'also run the daemon’s lease-guarded close here (replicas close once)',
      },
      {
        flags: '--trust-proxy',
        description: 'take the client address from X-Forwarded-For (behind a reverse proxy)',
      },
      {
        flags: '--session-ttl <seconds>',
        description: 'dashboard session lifetime',
        default: '28800',
      },
    ],
    examples: [
      'quotaclock keys create --name web --scope quota:write',
      'quotaclock serve',
      'quotaclock serve --host 0.0.0.0 --port 8787 --workers 2 --schedule --db postgres://127.0.0.1/app',
    ],
    module: 'serve',
  },
];
