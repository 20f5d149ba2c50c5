import type { Logger } from '../log/logger.js';
import { PermanentDeliveryError } from './types.js';
import { RetryAfterError } from './retry.js';

export interface PostOptions {
  readonly body: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Used in error messages instead of the URL, which may hold a token. */
  readonly label: string;
  readonly log?: Logger;
}

function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  // The wall clock on purpose: an HTTP-date is the server's real time, never `--now`.
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/**
 * One POST. 2xx succeeds. 408, 429 and 5xx are retried; any other status is
 * permanent. Errors name the target's label and the status, never the URL.
 */
export async function post(url: string, opts: PostOptions): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': opts.contentType ?? 'application/json',
        'user-agent': 'quotaclock',
        ...opts.headers,
      },
      body: opts.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why =
      err.name === 'TimeoutError'
        ? `timed out after ${opts.timeoutMs} ms`
        : (err.cause?.code ?? err.message);
    throw new Error(`${opts.label}: request failed: ${why}`);
  }
  // Drain the body so the connection is released; keep a short excerpt for the error.
  const text = await res.text().catch((e: unknown) => {
    // Safe to drop: the status alone decides success or retry; the body only adds an excerpt.
    opts.log?.debug({ err: e, target: opts.label }, 'could not read the response body');
    return '';
  });
  if (res.ok) return;
  const excerpt = text.slice(0, 200).replace(/\s+/g, ' ').trim();
  const message = `${opts.label}: HTTP ${res.status}${excerpt ? ` (${excerpt})` : ''}`;
  if (res.status === 429 || res.status === 503)
    throw new RetryAfterError(message, retryAfterMs(res.headers.get('retry-after')));
  if (res.status === 408 || res.status >= 500) throw new Error(message);
  throw new PermanentDeliveryError(message);
}
