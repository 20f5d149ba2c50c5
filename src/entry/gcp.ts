import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent, Request, Response } from '@google-cloud/functions-framework';
import { publicError, runEntryReset, type EntryOptions } from './reset-entry.js';

function dryRunRequested(req: Request): boolean {
  const q = req.query.dryRun;
  if (q === '1' || q === 'true') return true;
  const body: unknown = req.body;
  return (
    typeof body === 'object' && body !== null && (body as { dryRun?: unknown }).dryRun === true
  );
}

/**
 * The HTTP function Cloud Scheduler calls (POST): 200 with a summary after a
 * reset, the error's HTTP status (500 for a failed reset, 503 for an
 * unavailable store) and its code on failure, so Cloud Scheduler retries
 * and logs the attempt as failed.
 */
export function createHttpHandler(opts: EntryOptions = {}) {
  return async (req: Request, res: Response): Promise<void> => {
    if (req.method !== 'POST') {
      res
        .set('Allow', 'POST')
        .status(405)
        .json({ error: { code: 'BAD_INPUT', message: 'use POST (Cloud Scheduler sends POST)' } });
      return;
    }
    try {
      res.status(200).json(await runEntryReset('gcp', opts, { dryRun: dryRunRequested(req) }));
    } catch (e) {
      const err = publicError(e);
      res.status(err.httpStatus).json({ ok: false, error: err.toJSON() });
    }
  };
}

function messagePayload(event: CloudEvent<unknown>): unknown {
  const data = (event.data as { message?: { data?: string } } | undefined)?.message?.data;
  if (!data) return null;
  try {
    return JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch {
    return null;
  }
}

/** The Pub/Sub (CloudEvent) function: throws on failure, so the event is redelivered (deploy with --retry). */
export function createCloudEventHandler(opts: EntryOptions = {}) {
  return async (event: CloudEvent<unknown>): Promise<void> => {
    const payload = messagePayload(event);
    const dryRun =
      typeof payload === 'object' &&
      payload !== null &&
      (payload as { dryRun?: unknown }).dryRun === true;
    await runEntryReset('gcp', opts, { dryRun });
  };
}

export const quotaclockReset = createHttpHandler();
export const quotaclockResetPubSub = createCloudEventHandler();

// Registered by name, so `--entry-point=quotaclockReset` (or the Pub/Sub one) finds them
// and the framework knows each one's signature.
functions.http('quotaclockReset', quotaclockReset);
functions.cloudEvent('quotaclockResetPubSub', quotaclockResetPubSub);
