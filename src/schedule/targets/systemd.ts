import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { systemdPath, systemdWord } from '../quote.js';
import { toSystemdCalendar } from '../translate.js';

export const DEFAULT_SYSTEMD_DIR = '/etc/systemd/system';

export function systemdService(ctx: ScheduleContext): string {
  const exec = [
    ctx.nodePath,
    ctx.cliPath,
    'reset',
    ...(ctx.configFile ? ['--config', ctx.configFile] : []),
  ];
  return [
    `# ${ctx.name}.service: closes ended quota periods; started by ${ctx.name}.timer.`,
    `# ${generatedBy('systemd')} Install with \`quotaclock schedule install --target systemd\`.`,
    '[Unit]',
    'Description=quotaclock: close ended quota periods',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    ...(ctx.user ? [`User=${ctx.user}`] : []),
    `WorkingDirectory=${systemdPath(ctx.projectDir)}`,
    // Loaded by systemd, never copied here; a missing file fails the start instead of running without it.
    ...(ctx.envFile ? [`EnvironmentFile=${systemdPath(ctx.envFile)}`] : []),
    `ExecStart=${exec.map(systemdWord).join(' ')}`,
    // A stuck run must not block the next one forever; a killed run resumes from its checkpoint.
    'TimeoutStartSec=2h',
    `# Output goes to the journal: journalctl -u ${ctx.name}.service`,
    '',
  ].join('\n');
}

export function systemdTimer(ctx: ScheduleContext): string {
  return [
    `# ${ctx.name}.timer: starts ${ctx.name}.service ${scheduleLabel(ctx)}.`,
    `# ${generatedBy('systemd')}`,
    '[Unit]',
    `Description=quotaclock: run ${ctx.name}.service ${scheduleLabel(ctx).replace(/"/g, '')}`,
    '',
    '[Timer]',
    ...toSystemdCalendar(ctx.cron, ctx.timeZone).map((e) => `OnCalendar=${e}`),
    // Runs at boot when the machine was off at the scheduled time.
    'Persistent=true',
    'AccuracySec=1s',
    `Unit=${ctx.name}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
}

export function systemdArtifact(ctx: ScheduleContext): ScheduleArtifact {
  const unit = `${ctx.name}.timer`;
  return {
    target: 'systemd',
    name: ctx.name,
    schedule: {
      cron: ctx.cron.fields.join(' '),
      timeZone: ctx.timeZone,
      native: toSystemdCalendar(ctx.cron, ctx.timeZone),
    },
    files: [
      { name: `${ctx.name}.service`, content: systemdService(ctx) },
      { name: unit, content: systemdTimer(ctx) },
    ],
    commands: [
      {
        purpose: 'install the units',
        command: `sudo quotaclock schedule install --target systemd   # writes ${DEFAULT_SYSTEMD_DIR}/${ctx.name}.{service,timer}`,
      },
      {
        purpose: 'enable and start the timer',
        command: `sudo systemctl daemon-reload && sudo systemctl enable --now ${unit}`,
      },
      { purpose: 'next and last run', command: `systemctl list-timers ${unit}` },
      { purpose: 'run once now', command: `sudo systemctl start ${ctx.name}.service` },
      { purpose: 'read the log', command: `journalctl -u ${ctx.name}.service` },
      {
        purpose: 'check the units and the calendar',
        command: `systemd-analyze verify ${DEFAULT_SYSTEMD_DIR}/${unit} && systemd-analyze calendar '${toSystemdCalendar(ctx.cron, ctx.timeZone)[0]}'`,
      },
    ],
    notes: [
      `OnCalendar= carries the zone (${ctx.timeZone}) itself, so the timer follows its daylight saving time whatever the machine's zone.`,
      'Persistent=true runs a missed start at the next boot; the reset catches up every ended period anyway.',
    ],
  };
}
