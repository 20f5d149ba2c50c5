import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { sameZone } from '../system.js';
import { toNcrontab } from '../translate.js';

export function azureFunctionFile(ctx: ScheduleContext): string {
  const ncrontab = toNcrontab(ctx.cron);
  const utc = sameZone(ctx.timeZone, 'UTC');
  return [
    `// ${ctx.name} on Azure Functions (Node.js programming model v4), ${scheduleLabel(ctx)}.`,
    `// ${generatedBy('azure')}`,
    `// NCRONTAB "${ncrontab}" is {second} {minute} {hour} {day} {month} {day-of-week}.`,
    utc
      ? '// Timers run in UTC unless the app setting WEBSITE_TIME_ZONE says otherwise; leave it unset.'
      : `// Timers run in UTC unless the app setting WEBSITE_TIME_ZONE is set: "${ctx.timeZone}" on Linux Premium and Dedicated plans, the Windows name of the zone (tzutil /l) on Windows plans.`,
    '// Linux Consumption and Flex Consumption plans ignore WEBSITE_TIME_ZONE and run in UTC.',
    "import { registerResetTimer } from 'quotaclock/azure';",
    '',
    `registerResetTimer({ name: 'quotaclockReset', schedule: '${ncrontab}' });`,
    '',
  ].join('\n');
}

export const azureHostJson = () =>
  `${JSON.stringify(
    {
      version: '2.0',
      logging: { logLevel: { default: 'Information' } },
      extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' },
      // The Consumption plan's maximum; the reset resumes from its checkpoint if it is cut off.
      functionTimeout: '00:10:00',
    },
    null,
    2,
  )}\n`;

export function azureArtifact(ctx: ScheduleContext): ScheduleArtifact {
  const ncrontab = toNcrontab(ctx.cron);
  const utc = sameZone(ctx.timeZone, 'UTC');
  return {
    target: 'azure',
    name: ctx.name,
    schedule: { cron: ctx.cron.fields.join(' '), timeZone: ctx.timeZone, native: [ncrontab] },
    files: [
      { name: 'src/functions/quotaclockReset.js', content: azureFunctionFile(ctx) },
      { name: 'host.json', content: azureHostJson() },
    ],
    commands: [
      {
        purpose: 'deploy (from examples/azure)',
        command: 'npm ci && func azure functionapp publish <app-name>',
      },
      ...(utc
        ? []
        : [
            {
              purpose: 'time zone (not on Linux Consumption or Flex Consumption)',
              command: `az functionapp config appsettings set -n <app-name> -g <group> --settings WEBSITE_TIME_ZONE=${ctx.timeZone}`,
            },
          ]),
      {
        purpose: 'run once now',
        command:
          'curl -X POST "https://<app-name>.azurewebsites.net/admin/functions/quotaclockReset" -H "x-functions-key: <master key>" -H "Content-Type: application/json" -d "{}"',
      },
      { purpose: 'read the log', command: 'func azure functionapp logstream <app-name>' },
    ],
    notes: [
      `NCRONTAB has a seconds field: "${ncrontab}" is cron "${ctx.cron.fields.join(' ')}".`,
      utc
        ? "Azure timers run in UTC by default, which is this schedule's zone."
        : `Azure timers run in UTC unless WEBSITE_TIME_ZONE is set (IANA "${ctx.timeZone}" on Linux Premium/Dedicated, the Windows zone name on Windows plans); Linux Consumption and Flex Consumption plans cannot follow ${ctx.timeZone}.`,
      'A failed run throws, so Functions records a failure and retries it (3 times, 5 minutes apart).',
    ],
  };
}
