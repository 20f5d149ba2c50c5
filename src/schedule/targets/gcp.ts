import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { shQuote } from '../quote.js';
import { toCloudSchedulerCron } from '../translate.js';

export function gcpDeployScript(ctx: ScheduleContext): string {
  const cron = toCloudSchedulerCron(ctx.cron);
  const fn = ctx.name;
  return [
    '#!/bin/sh',
    `# ${fn} on Google Cloud: an HTTP function called by Cloud Scheduler, ${scheduleLabel(ctx)}.`,
    `# ${generatedBy('gcp')}`,
    '# Cloud Scheduler reads the schedule in --time-zone, daylight saving time included.',
    '# The store URL comes from Secret Manager (secret "quotaclock-store"), never from this script.',
    'set -eu',
    'PROJECT_ID="${PROJECT_ID:?set PROJECT_ID}"',
    'REGION="${REGION:-us-central1}"',
    'INVOKER="quotaclock-scheduler@${PROJECT_ID}.iam.gserviceaccount.com"',
    '',
    `gcloud functions deploy ${fn} --gen2 --project="$PROJECT_ID" --region="$REGION" \\`,
    '  --runtime=nodejs20 --source=. --entry-point=quotaclockReset --trigger-http --no-allow-unauthenticated \\',
    '  --timeout=540s --memory=512Mi --set-secrets=QUOTACLOCK_DB=quotaclock-store:latest',
    `URL="$(gcloud functions describe ${fn} --gen2 --project="$PROJECT_ID" --region="$REGION" --format='value(serviceConfig.uri)')"`,
    '',
    '# Cloud Scheduler calls the function as this service account, with an OIDC token.',
    'gcloud iam service-accounts describe "$INVOKER" --project="$PROJECT_ID" >/dev/null 2>&1 ||',
    '  gcloud iam service-accounts create quotaclock-scheduler --project="$PROJECT_ID"',
    `gcloud functions add-invoker-policy-binding ${fn} --project="$PROJECT_ID" --region="$REGION" --member="serviceAccount:$INVOKER"`,
    '',
    '# A non-2xx answer (the function answers 500 when the reset fails) is retried.',
    `gcloud scheduler jobs create http ${fn} --project="$PROJECT_ID" --location="$REGION" \\`,
    `  --schedule=${shQuote(cron)} --time-zone=${shQuote(ctx.timeZone)} \\`,
    '  --uri="$URL" --http-method=POST --oidc-service-account-email="$INVOKER" --oidc-token-audience="$URL" \\',
    '  --attempt-deadline=540s --max-retry-attempts=3 --min-backoff=300s',
    '',
    '# Alternative, through Pub/Sub (a thrown error is a failed event, redelivered with --retry):',
    `#   gcloud functions deploy ${fn}-pubsub --gen2 --project="$PROJECT_ID" --region="$REGION" --runtime=nodejs20 --source=. \\`,
    `#     --entry-point=quotaclockResetPubSub --trigger-topic=${fn} --retry --set-secrets=QUOTACLOCK_DB=quotaclock-store:latest`,
    `#   gcloud scheduler jobs create pubsub ${fn}-pubsub --project="$PROJECT_ID" --location="$REGION" \\`,
    `#     --schedule=${shQuote(cron)} --time-zone=${shQuote(ctx.timeZone)} --topic=${fn} --message-body='{}'`,
    '',
  ].join('\n');
}

export const gcpIndex = () =>
  [
    `// The Cloud Functions entry points: quotaclock's own HTTP and Pub/Sub (CloudEvent) functions.`,
    `// ${generatedBy('gcp')}`,
    "export { quotaclockReset, quotaclockResetPubSub } from 'quotaclock/gcp';",
    '',
  ].join('\n');

export function gcpArtifact(ctx: ScheduleContext): ScheduleArtifact {
  const cron = toCloudSchedulerCron(ctx.cron);
  return {
    target: 'gcp',
    name: ctx.name,
    schedule: { cron: ctx.cron.fields.join(' '), timeZone: ctx.timeZone, native: [cron] },
    files: [
      { name: 'deploy.sh', content: gcpDeployScript(ctx) },
      { name: 'index.js', content: gcpIndex() },
    ],
    commands: [
      { purpose: 'deploy (from examples/gcp)', command: 'PROJECT_ID=my-project sh deploy.sh' },
      {
        purpose: 'run once now',
        command: `gcloud scheduler jobs run ${ctx.name} --location="$REGION"`,
      },
      {
        purpose: 'read the log',
        command: `gcloud functions logs read ${ctx.name} --gen2 --region="$REGION"`,
      },
    ],
    notes: [
      `Cloud Scheduler reads "${cron}" in ${ctx.timeZone} (--time-zone), daylight saving time included.`,
    ],
  };
}
