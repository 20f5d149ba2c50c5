import path from 'node:path';
import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { psQuote, winQuote, xmlEscape } from '../quote.js';
import { sameZone } from '../system.js';
import { toWindowsTriggers, type WindowsSchedule, type WindowsTrigger } from '../translate.js';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
/** Any date before the first run: Task Scheduler starts counting from it. */
const START_DATE = '2000-01-01';

const xmlPath = (ctx: ScheduleContext, file: string) =>
  (process.platform === 'win32' ? path : path.win32).join(ctx.projectDir, file);

export const windowsXmlPath = (ctx: ScheduleContext) => xmlPath(ctx, `${ctx.name}.xml`);

export function schtasksCommand(ctx: ScheduleContext, file = windowsXmlPath(ctx)): string {
  return `schtasks /Create /TN ${winQuote(ctx.name)} /XML ${winQuote(file)} /F`;
}

export function powershellCommand(ctx: ScheduleContext, file = windowsXmlPath(ctx)): string {
  return `Register-ScheduledTask -TaskName ${psQuote(ctx.name)} -Xml (Get-Content -LiteralPath ${psQuote(file)} -Raw) -Force`;
}

function scheduleXml(s: WindowsSchedule, indent: string): string[] {
  const months = (list: readonly number[]) => [
    `${indent}  <Months>`,
    ...list.map((m) => `${indent}    <${MONTHS[m - 1]} />`),
    `${indent}  </Months>`,
  ];
  const weekdays = (list: readonly number[]) => [
    `${indent}  <DaysOfWeek>`,
    ...list.map((d) => `${indent}    <${DAYS[d]} />`),
    `${indent}  </DaysOfWeek>`,
  ];
  switch (s.kind) {
    case 'daily':
      return [
        `${indent}<ScheduleByDay>`,
        `${indent}  <DaysInterval>1</DaysInterval>`,
        `${indent}</ScheduleByDay>`,
      ];
    case 'monthly':
      return [
        `${indent}<ScheduleByMonth>`,
        `${indent}  <DaysOfMonth>`,
        ...s.days.map((d) => `${indent}    <Day>${d}</Day>`),
        `${indent}  </DaysOfMonth>`,
        ...months(s.months),
        `${indent}</ScheduleByMonth>`,
      ];
    case 'weekly':
      return [
        `${indent}<ScheduleByWeek>`,
        `${indent}  <WeeksInterval>1</WeeksInterval>`,
        ...weekdays(s.weekdays),
        `${indent}</ScheduleByWeek>`,
      ];
    case 'monthlyDayOfWeek':
      return [
        `${indent}<ScheduleByMonthDayOfWeek>`,
        `${indent}  <Weeks>`,
        ...['1', '2', '3', '4', 'Last'].map((w) => `${indent}    <Week>${w}</Week>`),
        `${indent}  </Weeks>`,
        ...weekdays(s.weekdays),
        ...months(s.months),
        `${indent}</ScheduleByMonthDayOfWeek>`,
      ];
  }
}

function triggerXml(t: WindowsTrigger, utc: boolean): string[] {
  const i = '    ';
  return [
    `${i}<CalendarTrigger>`,
    // A trailing Z pins the time to UTC (Task Scheduler's "synchronize across time zones").
    `${i}  <StartBoundary>${START_DATE}T${t.time}:00${utc ? 'Z' : ''}</StartBoundary>`,
    `${i}  <Enabled>true</Enabled>`,
    ...(t.repetition
      ? [
          `${i}  <Repetition>`,
          `${i}    <Interval>PT${t.repetition.intervalMinutes}M</Interval>`,
          `${i}    <Duration>PT${t.repetition.durationMinutes}M</Duration>`,
          `${i}    <StopAtDurationEnd>false</StopAtDurationEnd>`,
          `${i}  </Repetition>`,
        ]
      : []),
    ...scheduleXml(t.schedule, `${i}  `),
    `${i}</CalendarTrigger>`,
  ];
}

export function windowsArguments(ctx: ScheduleContext): string {
  return [
    ...(ctx.envFile ? [`--env-file=${winQuote(ctx.envFile)}`] : []),
    winQuote(ctx.cliPath),
    'reset',
    ...(ctx.configFile ? ['--config', winQuote(ctx.configFile)] : []),
    // Task Scheduler keeps no output: the job writes its own rotating log.
    '--log-file',
    winQuote(ctx.logFile),
  ].join(' ');
}

export function windowsXml(ctx: ScheduleContext): string {
  const utc = sameZone(ctx.timeZone, 'UTC');
  const zoneNote = utc
    ? 'Times are UTC all year (StartBoundary ends in Z).'
    : `Task Scheduler has no time zone setting: times are the machine's local time, so the machine must run in ${ctx.timeZone}.`;
  const lines = [
    '<?xml version="1.0"?>',
    '<!--',
    `  ${ctx.name}: closes ended quota periods, ${scheduleLabel(ctx)}.`,
    `  ${generatedBy('windows')}`,
    `  ${zoneNote}`,
    '  Register it from an elevated prompt, with either command:',
    `    ${schtasksCommand(ctx)}`,
    `    ${powershellCommand(ctx)}`,
    '-->',
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    '  <RegistrationInfo>',
    `    <Description>${xmlEscape(`quotaclock: close ended quota periods (${scheduleLabel(ctx)})`)}</Description>`,
    `    <URI>\\${xmlEscape(ctx.name)}</URI>`,
    '  </RegistrationInfo>',
    '  <Triggers>',
    ...toWindowsTriggers(ctx.cron).flatMap((t) => triggerXml(t, utc)),
    '  </Triggers>',
    '  <Principals>',
    '    <Principal id="Author">',
    ...(ctx.user ? [`      <UserId>${xmlEscape(ctx.user)}</UserId>`] : []),
    // S4U: runs whether or not the user is logged on, without storing a password.
    '      <LogonType>S4U</LogonType>',
    '      <RunLevel>LeastPrivilege</RunLevel>',
    '    </Principal>',
    '  </Principals>',
    '  <Settings>',
    '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>',
    '    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>',
    '    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>',
    '    <AllowHardTerminate>true</AllowHardTerminate>',
    '    <StartWhenAvailable>true</StartWhenAvailable>',
    '    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>',
    '    <IdleSettings>',
    '      <StopOnIdleEnd>false</StopOnIdleEnd>',
    '      <RestartOnIdle>false</RestartOnIdle>',
    '    </IdleSettings>',
    '    <AllowStartOnDemand>true</AllowStartOnDemand>',
    '    <Enabled>true</Enabled>',
    '    <Hidden>false</Hidden>',
    '    <RunOnlyIfIdle>false</RunOnlyIfIdle>',
    '    <WakeToRun>false</WakeToRun>',
    '    <ExecutionTimeLimit>PT2H</ExecutionTimeLimit>',
    '    <Priority>7</Priority>',
    '    <RestartOnFailure>',
    '      <Interval>PT5M</Interval>',
    '      <Count>3</Count>',
    '    </RestartOnFailure>',
    '  </Settings>',
    '  <Actions Context="Author">',
    '    <Exec>',
    `      <Command>${xmlEscape(ctx.nodePath)}</Command>`,
    `      <Arguments>${xmlEscape(windowsArguments(ctx))}</Arguments>`,
    `      <WorkingDirectory>${xmlEscape(ctx.projectDir)}</WorkingDirectory>`,
    '    </Exec>',
    '  </Actions>',
    '</Task>',
    '',
  ];
  return lines.join('\n');
}

export function windowsArtifact(ctx: ScheduleContext): ScheduleArtifact {
  const triggers = toWindowsTriggers(ctx.cron);
  return {
    target: 'windows',
    name: ctx.name,
    schedule: {
      cron: ctx.cron.fields.join(' '),
      timeZone: ctx.timeZone,
      native: triggers.map(
        (t) =>
          `${t.schedule.kind} at ${t.time}${t.repetition ? ` every ${t.repetition.intervalMinutes} min for ${t.repetition.durationMinutes} min` : ''}`,
      ),
    },
    files: [{ name: `${ctx.name}.xml`, content: windowsXml(ctx) }],
    commands: [
      {
        purpose: 'write the XML (UTF-16, as Task Scheduler exports it)',
        command: `quotaclock schedule install --target windows --dir ${winQuote(ctx.projectDir)}`,
      },
      { purpose: 'register (cmd, elevated)', command: schtasksCommand(ctx) },
      { purpose: 'or register (PowerShell, elevated)', command: powershellCommand(ctx) },
      {
        purpose: 'show the task',
        command: `Get-ScheduledTask -TaskName ${psQuote(ctx.name)} | Format-List *`,
      },
      { purpose: 'run once now', command: `Start-ScheduledTask -TaskName ${psQuote(ctx.name)}` },
      {
        purpose: 'last result and next run',
        command: `Get-ScheduledTask -TaskName ${psQuote(ctx.name)} | Get-ScheduledTaskInfo`,
      },
      { purpose: 'read the log', command: `Get-Content -Wait ${psQuote(ctx.logFile)}` },
    ],
    notes: [
      'The trigger is monthly by construction (ScheduleByMonth, day 1 by default): no daily trigger with a one-month repetition, which runs every day.',
      ctx.user
        ? `The task runs as ${ctx.user} whether or not anyone is logged on (S4U: no stored password, no network share access).`
        : 'The task runs as the user who registers it, whether or not anyone is logged on (S4U: no stored password, no network share access); pass --user DOMAIN\\name to name the account.',
      'RestartOnFailure (3 times, 5 minutes apart) covers a launch that fails; a run that exits 1 shows as Last Run Result 0x1, and the next run catches up.',
      ...(sameZone(ctx.timeZone, 'UTC')
        ? []
        : [
            `Task Scheduler reads the times in the machine's zone; this XML assumes the machine runs in ${ctx.timeZone}.`,
          ]),
    ],
  };
}
