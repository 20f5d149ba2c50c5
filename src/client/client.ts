import { QuotaClockUnavailableError } from './errors.js';
import { send, type RequestSpec, type TransportSettings } from './transport.js';
import type {
  BatchItem,
  BatchResult,
  BatchResultItem,
  CheckResult,
  ConsumeResult,
  HistoryEntry,
  Metadata,
  Problem,
  RefundResult,
  StatusResult,
  UnavailableCheckResult,
  UnavailableConsumeResult,
} from './types.js';

/** What consume() and check() answer when the service cannot be reached: refuse, or let the call through. */
export type FailMode = 'closed' | 'open';

export interface QuotaClockClientOptions {
  /** The service's base URL, such as `http://127.0.0.1:8787`. */
  readonly url: string;
  /** A key from `quotaclock keys create`, sent as `Authorization: Bearer`. */
  readonly apiKey: string;
  /** Required: there is no safe default for every app. */
  readonly failMode: FailMode;
  /** Per attempt, answer body included. Default 2000. */
  readonly timeoutMs?: number;
  /** Attempts after the first. Default 2. */
  readonly retries?: number;
  /** The first backoff step; each retry doubles it, with jitter. Default 100. */
  readonly retryBaseMs?: number;
  /** The longest wait between attempts. A Retry-After longer than this ends the retries. Default 5000. */
  readonly maxRetryDelayMs?: number;
  /** For runtimes that need their own fetch. Default: the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface ConsumeCallOptions {
  /** The idempotency key. Without one the client makes one up (and returns it as `key`). */
  readonly key?: string;
  readonly meta?: Metadata;
}

type ServerConsume = Omit<ConsumeResult, 'subject' | 'feature' | 'key'> & Partial<ConsumeResult>;
type ServerCheck = Omit<CheckResult, 'subject' | 'feature'>;

function option(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TypeError(
      `QuotaClockClient: ${name} must be a number ≥ ${min}, got ${String(value)}`,
    );
  }
  return value;
}

function newKey(): string {
  return globalThis.crypto.randomUUID();
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/**
 * The quotaclock service over HTTP (API.md, "Clients"). Every call retries
 * transient failures; a consume always carries an idempotency key, so a retry
 * after a lost answer replays the first outcome instead of counting twice.
 */
export class QuotaClockClient {
  readonly failMode: FailMode;
  private readonly settings: TransportSettings;

  constructor(options: QuotaClockClientOptions) {
    if (!isObject(options)) throw new TypeError('QuotaClockClient: options are required');
    if (options.failMode !== 'closed' && options.failMode !== 'open') {
      throw new TypeError(
        `QuotaClockClient: failMode must be 'closed' or 'open', got ${JSON.stringify(options.failMode)}`,
      );
    }
    if (typeof options.apiKey !== 'string' || options.apiKey === '') {
      throw new TypeError('QuotaClockClient: apiKey is required');
    }
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TypeError(
        `QuotaClockClient: url is not an absolute URL: ${JSON.stringify(options.url)}`,
      );
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function')
      throw new TypeError('QuotaClockClient: no fetch in this runtime');
    this.failMode = options.failMode;
    this.settings = {
      baseUrl: base.href.replace(/\/+$/, ''),
      apiKey: options.apiKey,
      timeoutMs: option('timeoutMs', options.timeoutMs, 2000, 1),
      retries: Math.floor(option('retries', options.retries, 2, 0)),
      retryBaseMs: option('retryBaseMs', options.retryBaseMs, 100, 0),
      maxRetryDelayMs: option('maxRetryDelayMs', options.maxRetryDelayMs, 5000, 0),
      // Called unbound, some runtimes throw "Illegal invocation".
      fetch: (input, init) => fetchImpl(input, init),
    };
  }

  /** Consumes `amount` units atomically. A denial is a result (`granted: false`), not an error. */
  async consume(
    subject: string,
    feature: string,
    amount = 1,
    options: ConsumeCallOptions = {},
  ): Promise<ConsumeResult | UnavailableConsumeResult> {
    const key = options.key ?? newKey();
    const body = {
      subject,
      feature,
      amount,
      key,
      ...(options.meta === undefined ? {} : { meta: options.meta }),
    };
    try {
      const answer = await this.call<ServerConsume>({
        method: 'POST',
        path: '/v1/consume',
        body,
        idempotencyKey: key,
      });
      return {
        ...answer,
        subject: answer.subject ?? subject,
        feature: answer.feature ?? feature,
        key,
      };
    } catch (error) {
      if (error instanceof QuotaClockUnavailableError)
        return this.unavailableConsume(subject, feature, key);
      throw error;
    }
  }

  /** Whether `amount` units would be granted now. Writes nothing. */
  async check(
    subject: string,
    feature: string,
    amount = 1,
  ): Promise<CheckResult | UnavailableCheckResult> {
    try {
      const answer = await this.call<ServerCheck>({
        method: 'POST',
        path: '/v1/check',
        body: { subject, feature, amount },
      });
      return { ...answer, subject, feature };
    } catch (error) {
      if (error instanceof QuotaClockUnavailableError)
        return this.unavailableCheck(subject, feature);
      throw error;
    }
  }

  /** Reverses the consume made with `key`. Throws QuotaClockUnavailableError when the service cannot be reached. */
  refund(subject: string, key: string): Promise<RefundResult> {
    return this.call({ method: 'POST', path: '/v1/refund', body: { subject, key } });
  }

  /** The subject's plan, period and per-feature usage. 404 SUBJECT_NOT_FOUND for an unknown subject. */
  status(subject: string): Promise<StatusResult> {
    return this.call({ method: 'GET', path: `/v1/subjects/${encodeURIComponent(subject)}` });
  }

  /** Usage per period, newest first. */
  history(subject: string, options: { readonly limit?: number } = {}): Promise<HistoryEntry[]> {
    const query = options.limit === undefined ? '' : `?limit=${encodeURIComponent(options.limit)}`;
    return this.call({
      method: 'GET',
      path: `/v1/subjects/${encodeURIComponent(subject)}/history${query}`,
    });
  }

  /**
   * Up to 100 operations in one request, answered in order. Each consume gets
   * its own key (made up when missing), so retrying the whole batch is safe.
   * When the service cannot be reached, consumes and checks get the failMode's
   * answer and refunds a SERVICE_UNAVAILABLE problem.
   */
  async batch(items: readonly BatchItem[]): Promise<BatchResult> {
    const keyed = items.map((item) =>
      item.op === 'consume' && item.key === undefined ? { ...item, key: newKey() } : item,
    );
    let results: readonly BatchResultItem[];
    try {
      results = (
        await this.call<BatchResult>({ method: 'POST', path: '/v1/batch', body: { items: keyed } })
      ).results;
    } catch (error) {
      if (error instanceof QuotaClockUnavailableError)
        return { results: keyed.map((item) => this.unavailableItem(item)) };
      throw error;
    }
    return { results: results.map((result, i) => this.completeItem(keyed[i], result)) };
  }

  /** Adds what the service leaves out of an item's answer: its subject, feature and key. */
  private completeItem(item: BatchItem | undefined, result: BatchResultItem): BatchResultItem {
    if (item === undefined || !isObject(result) || 'code' in result) return result;
    const answer: Record<string, unknown> = result;
    if (item.op === 'consume') {
      return {
        subject: item.subject,
        feature: item.feature,
        ...answer,
        key: item.key,
      } as ConsumeResult;
    }
    if (item.op === 'check') {
      return { subject: item.subject, feature: item.feature, ...answer } as CheckResult;
    }
    return result;
  }

  private call<T>(spec: RequestSpec): Promise<T> {
    return send<T>(this.settings, spec);
  }

  private unavailableConsume(
    subject: string,
    feature: string,
    key: string,
  ): UnavailableConsumeResult {
    const granted = this.failMode === 'open';
    return {
      granted,
      reason: 'unavailable',
      used: null,
      limit: null,
      remaining: null,
      period: null,
      timeZone: null,
      secondsLeft: null,
      subject,
      feature,
      key,
    };
  }

  private unavailableCheck(subject: string, feature: string): UnavailableCheckResult {
    const allowed = this.failMode === 'open';
    return {
      allowed,
      reason: 'unavailable',
      limit: null,
      used: null,
      remaining: null,
      period: null,
      timeZone: null,
      secondsLeft: null,
      subject,
      feature,
    };
  }

  private unavailableItem(item: BatchItem): BatchResultItem {
    if (item.op === 'consume')
      return this.unavailableConsume(item.subject, item.feature, item.key ?? '');
    if (item.op === 'check') return this.unavailableCheck(item.subject, item.feature);
    const problem: Problem = {
      type: 'about:blank',
      title: 'Service unavailable',
      status: 503,
      code: 'SERVICE_UNAVAILABLE',
      detail: 'the quotaclock service could not be reached; the refund was not applied',
    };
    return problem;
  }
}
