import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { yamlString } from '../quote.js';
import { sameZone } from '../system.js';
import { toAwsCron } from '../translate.js';

/** What EventBridge Scheduler sends the function: its own context attributes, filled in per invocation. */
export const SCHEDULER_INPUT =
  '{"source":"quotaclock.schedule","scheduleArn":"<aws.scheduler.schedule-arn>","scheduledTime":"<aws.scheduler.scheduled-time>","executionId":"<aws.scheduler.execution-id>","attemptNumber":"<aws.scheduler.attempt-number>"}';

export function samTemplate(ctx: ScheduleContext): string {
  const expression = toAwsCron(ctx.cron);
  const utc = sameZone(ctx.timeZone, 'UTC');
  return [
    `# ${ctx.name} on AWS: a Lambda function started by EventBridge Scheduler, ${scheduleLabel(ctx)}.`,
    `# ${generatedBy('aws')} Deploy: sam build --use-container && sam deploy --guided`,
    '#',
    `# Plain EventBridge rules (Events type "Schedule") also accept ${expression}, but a rule`,
    '# always reads it in UTC and cannot follow a time zone or its daylight saving time.',
    utc
      ? '# That is the same schedule here; EventBridge Scheduler is still used for its retry policy.'
      : `# Here a rule would run at that time UTC, not ${ctx.timeZone}: EventBridge Scheduler below does it right.`,
    "AWSTemplateFormatVersion: '2010-09-09'",
    'Transform: AWS::Serverless-2016-10-31',
    'Description: quotaclock, close ended quota periods every month',
    '',
    'Parameters:',
    '  StoreSecretName:',
    '    Type: String',
    '    Default: quotaclock/store',
    '    Description: Secrets Manager secret whose value is the store URL (postgres://... or firestore://project)',
    '',
    'Resources:',
    '  QuotaclockReset:',
    '    Type: AWS::Serverless::Function',
    '    Properties:',
    '      CodeUri: .',
    '      Handler: index.handler',
    '      Runtime: nodejs20.x',
    '      Architectures: [arm64]',
    '      MemorySize: 512',
    '      # The reset is resumable: a run cut off at the limit continues on the retry.',
    '      Timeout: 900',
    '      Environment:',
    '        Variables:',
    '          QUOTACLOCK_CONFIG: ./quotaclock.config.json',
    "          QUOTACLOCK_DB: !Sub '{{resolve:secretsmanager:${StoreSecretName}}}'",
    '      # A thrown error is a failed invocation: Lambda retries it and counts it in the Errors metric.',
    '      EventInvokeConfig:',
    '        MaximumRetryAttempts: 2',
    '        MaximumEventAgeInSeconds: 21600',
    '      Events:',
    '        MonthlyReset:',
    '          Type: ScheduleV2',
    '          Properties:',
    `            Name: ${ctx.name}`,
    `            ScheduleExpression: ${yamlString(expression)}`,
    `            ScheduleExpressionTimezone: ${yamlString(ctx.timeZone)}`,
    '            FlexibleTimeWindow:',
    "              Mode: 'OFF'",
    '            RetryPolicy:',
    '              MaximumRetryAttempts: 3',
    '              MaximumEventAgeInSeconds: 3600',
    `            Input: '${SCHEDULER_INPUT}'`,
    '',
    'Outputs:',
    '  FunctionName:',
    '    Value: !Ref QuotaclockReset',
    '',
  ].join('\n');
}

export const lambdaIndex = () =>
  [
    `// The Lambda handler: quotaclock's own, which runs the reset and throws on failure.`,
    `// ${generatedBy('aws')}`,
    "export { handler } from 'quotaclock/aws';",
    '',
  ].join('\n');

export function awsArtifact(ctx: ScheduleContext): ScheduleArtifact {
  const expression = toAwsCron(ctx.cron);
  return {
    target: 'aws',
    name: ctx.name,
    schedule: { cron: ctx.cron.fields.join(' '), timeZone: ctx.timeZone, native: [expression] },
    files: [
      { name: 'template.yaml', content: samTemplate(ctx) },
      { name: 'index.mjs', content: lambdaIndex() },
    ],
    commands: [
      {
        purpose: 'deploy (from examples/aws)',
        command: 'sam build --use-container && sam deploy --guided',
      },
      {
        purpose: 'dry run now',
        command: `aws lambda invoke --function-name <FunctionName> --cli-binary-format raw-in-base64-out --payload '{"dryRun":true}' out.json && cat out.json`,
      },
      { purpose: 'the schedule', command: `aws scheduler get-schedule --name ${ctx.name}` },
      {
        purpose: 'read the log',
        command: 'sam logs --stack-name <stack> --name QuotaclockReset --tail',
      },
    ],
    notes: [
      `EventBridge Scheduler reads ${expression} in ${ctx.timeZone} (ScheduleExpressionTimezone), daylight saving time included.`,
      `A plain EventBridge rule with ${expression} runs in UTC only.`,
      'The handler throws on failure, so the invocation is failed, retried and alarmed on; it never returns a 500-shaped success.',
    ],
  };
}
