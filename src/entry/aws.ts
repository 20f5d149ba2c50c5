import { runEntryReset, wantsDryRun, type EntryOptions, type ResetSummary } from './reset-entry.js';

/**
 * What EventBridge Scheduler sends (the Input of quotaclock's SAM template,
 * its context attributes filled in), or a plain EventBridge rule's
 * "Scheduled Event", or {"dryRun": true} from a manual invoke.
 */
export interface ScheduleEvent {
  readonly source?: string;
  readonly scheduleArn?: string;
  readonly scheduledTime?: string;
  readonly executionId?: string;
  readonly attemptNumber?: string;
  readonly 'detail-type'?: string;
  readonly time?: string;
  readonly resources?: readonly string[];
  readonly dryRun?: boolean;
}

/** The part of Lambda's context this handler reads. */
export interface LambdaContext {
  readonly awsRequestId?: string;
  readonly functionName?: string;
}

export interface LambdaResetResult extends ResetSummary {
  readonly scheduledTime: string | null;
  readonly attempt: number | null;
}

/**
 * A Lambda handler. On failure it throws: the invocation is failed, so Lambda
 * retries it, counts it in Errors and sends it to a failure destination. It
 * never answers a failure with a success-shaped { statusCode: 500 }.
 */
export function createHandler(opts: EntryOptions = {}) {
  return async function handler(
    event: ScheduleEvent | null | undefined,
    _context?: LambdaContext,
  ): Promise<LambdaResetResult> {
    const summary = await runEntryReset('aws', opts, { dryRun: wantsDryRun(event) });
    const attempt = Number(event?.attemptNumber);
    return {
      ...summary,
      scheduledTime: event?.scheduledTime ?? event?.time ?? null,
      attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : null,
    };
  };
}

export const handler = createHandler();
