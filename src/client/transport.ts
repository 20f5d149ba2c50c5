import { QuotaClockApiError, QuotaClockUnavailableError } from './errors.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from './retry-policy.js';
import type { Problem } from './types.js';

export interface TransportSettings {
  /** Base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly maxRetryDelayMs: number;
  readonly fetch: typeof fetch;
}

export interface RequestSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  /** Sent as Idempotency-Key on every attempt, so a retry replays instead of counting again. */
  readonly idempotencyKey?: string;
}

type Outcome =
  | { readonly done: true; readonly value: unknown }
  | { readonly done: false; readonly error: unknown; readonly retryAfterMs?: number };

/**
 * The key as the draft's sf-string, so the service reads back exactly the
 * key in the body. A key outside printable ASCII cannot be a header value at
 * all; it then travels in the body alone, which the service reads the same way.
 */
function sfString(key: string): string | undefined {
  if (!/^[\x20-\x7e]*$/.test(key)) return undefined;
  return `"${key.replace(/[\\"]/g, '\\$&')}"`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function parseProblem(text: string): Partial<Problem> {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Partial<Problem>) : {};
  } catch {
    return { detail: text.slice(0, 200) || undefined };
  }
}

async function attempt(settings: TransportSettings, spec: RequestSpec): Promise<Outcome> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${settings.apiKey}`,
    accept: 'application/json, application/problem+json',
  };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  const keyHeader = spec.idempotencyKey === undefined ? undefined : sfString(spec.idempotencyKey);
  if (keyHeader !== undefined) headers['idempotency-key'] = keyHeader;
  try {
    const response = await settings.fetch(settings.baseUrl + spec.path, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
      // Covers the body too: a server that stalls mid-answer times out like one that never answers.
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    const text = await response.text();
    if (response.ok) {
      // A cut-off body throws here and is retried like a dropped connection.
      return { done: true, value: text === '' ? undefined : JSON.parse(text) };
    }
    const error = new QuotaClockApiError(response.status, parseProblem(text));
    if (!isRetryableStatus(response.status, error.code)) throw error;
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
    return { done: false, error, retryAfterMs };
  } catch (error) {
    if (error instanceof QuotaClockApiError) throw error;
    // Refused, reset, timed out, or an unreadable answer: the request may or may not have been processed.
    return { done: false, error };
  }
}

/**
 * Sends one logical request, retrying transient failures. Throws
 * QuotaClockApiError for an answer that retrying cannot change, and
 * QuotaClockUnavailableError when the retries run out or a Retry-After asks
 * for a longer wait than maxRetryDelayMs.
 */
export async function send<T>(settings: TransportSettings, spec: RequestSpec): Promise<T> {
  let sent = 0;
  for (;;) {
    const outcome = await attempt(settings, spec);
    sent += 1;
    if (outcome.done) return outcome.value as T;
    if (sent > settings.retries) throw new QuotaClockUnavailableError(sent, outcome.error);
    const delay =
      outcome.retryAfterMs ??
      backoffDelay(sent - 1, settings.retryBaseMs, settings.maxRetryDelayMs, Math.random());
    // Honouring Retry-After means never retrying sooner; when that is too far off, give up now.
    if (delay > settings.maxRetryDelayMs) throw new QuotaClockUnavailableError(sent, outcome.error);
    await sleep(delay);
  }
}
