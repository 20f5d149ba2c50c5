import { generatedBy, scheduleLabel, type ScheduleArtifact } from '../artifact.js';
import type { ScheduleContext } from '../context.js';
import { yamlString } from '../quote.js';
import { toKubernetesSchedule } from '../translate.js';

/** A day: a cluster that was down at the scheduled time still starts the job when it comes back. */
export const STARTING_DEADLINE_SECONDS = 86_400;

export function k8sManifest(ctx: ScheduleContext): string {
  const labels = (indent: string) => [
    `${indent}app.kubernetes.io/name: quotaclock`,
    `${indent}app.kubernetes.io/component: ${ctx.name}`,
  ];
  return [
    `# ${ctx.name}: closes ended quota periods, ${scheduleLabel(ctx)}.`,
    `# ${generatedBy('k8s')} Apply with: kubectl apply -f ${ctx.name}.cronjob.yaml`,
    '# It reads the store URL and other secrets from the Secret "quotaclock-env" and the',
    '# config from the ConfigMap "quotaclock-config"; create them first:',
    '#   kubectl create secret generic quotaclock-env --from-env-file=.env',
    '#   kubectl create configmap quotaclock-config --from-file=quotaclock.config.json',
    `# The image is your app's image with quotaclock installed (npm ci) in /app.`,
    'apiVersion: batch/v1',
    'kind: CronJob',
    'metadata:',
    `  name: ${ctx.name}`,
    '  labels:',
    ...labels('    '),
    'spec:',
    `  schedule: ${yamlString(toKubernetesSchedule(ctx.cron))}`,
    // Needs Kubernetes 1.27+ (stable); the schedule follows the zone's daylight saving time.
    `  timeZone: ${yamlString(ctx.timeZone)}`,
    // Never two resets at once from this CronJob (the store lease covers other schedulers).
    '  concurrencyPolicy: Forbid',
    `  startingDeadlineSeconds: ${STARTING_DEADLINE_SECONDS}`,
    '  successfulJobsHistoryLimit: 3',
    '  failedJobsHistoryLimit: 3',
    '  jobTemplate:',
    '    spec:',
    '      backoffLimit: 3',
    '      activeDeadlineSeconds: 7200',
    '      template:',
    '        metadata:',
    '          labels:',
    ...labels('            '),
    '        spec:',
    '          restartPolicy: Never',
    '          containers:',
    '            - name: reset',
    `              image: ${yamlString(ctx.image)}`,
    '              workingDir: /app',
    "              command: ['node', 'node_modules/quotaclock/dist/cli/main.js', 'reset']",
    '              env:',
    '                - name: QUOTACLOCK_CONFIG',
    '                  value: /etc/quotaclock/quotaclock.config.json',
    '              envFrom:',
    '                - secretRef:',
    '                    name: quotaclock-env',
    '              volumeMounts:',
    '                - name: config',
    '                  mountPath: /etc/quotaclock',
    '                  readOnly: true',
    '              resources:',
    '                requests:',
    '                  cpu: 100m',
    '                  memory: 256Mi',
    '                limits:',
    '                  memory: 512Mi',
    '          volumes:',
    '            - name: config',
    '              configMap:',
    '                name: quotaclock-config',
    '',
  ].join('\n');
}

export function k8sArtifact(ctx: ScheduleContext): ScheduleArtifact {
  return {
    target: 'k8s',
    name: ctx.name,
    schedule: {
      cron: ctx.cron.fields.join(' '),
      timeZone: ctx.timeZone,
      native: [toKubernetesSchedule(ctx.cron)],
    },
    files: [{ name: `${ctx.name}.cronjob.yaml`, content: k8sManifest(ctx) }],
    commands: [
      { purpose: 'apply', command: `quotaclock schedule print --target k8s | kubectl apply -f -` },
      { purpose: 'check it', command: `kubectl get cronjob ${ctx.name}` },
      {
        purpose: 'run once now',
        command: `kubectl create job --from=cronjob/${ctx.name} ${ctx.name}-manual`,
      },
      { purpose: 'read the log', command: `kubectl logs job/${ctx.name}-manual` },
    ],
    notes: [
      "spec.timeZone needs Kubernetes 1.27 or later; older clusters read the schedule in the kube-controller-manager's zone.",
      `startingDeadlineSeconds (${STARTING_DEADLINE_SECONDS}) lets a job missed during an outage start within a day; the reset closes every ended period whenever it runs.`,
    ],
  };
}
