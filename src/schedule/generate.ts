import type { ScheduleArtifact } from './artifact.js';
import type { ScheduleContext } from './context.js';
import { awsArtifact } from './targets/aws.js';
import { azureArtifact } from './targets/azure.js';
import { cronArtifact } from './targets/cron.js';
import { gcpArtifact } from './targets/gcp.js';
import { k8sArtifact } from './targets/k8s.js';
import { systemdArtifact } from './targets/systemd.js';
import { windowsArtifact } from './targets/windows.js';

const GENERATORS = {
  cron: cronArtifact,
  systemd: systemdArtifact,
  windows: windowsArtifact,
  k8s: k8sArtifact,
  aws: awsArtifact,
  azure: azureArtifact,
  gcp: gcpArtifact,
} satisfies Record<ScheduleContext['target'], (ctx: ScheduleContext) => ScheduleArtifact>;

/** The artifact for the context's target; throws SCHEDULE_UNSUPPORTED when its dialect cannot express the expression. */
export function generateSchedule(ctx: ScheduleContext): ScheduleArtifact {
  return GENERATORS[ctx.target](ctx);
}
