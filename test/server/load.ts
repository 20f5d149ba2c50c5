/** Clients for the reliability tests: many consumes in flight, each with its own key. */
export interface Outcome {
  readonly key: string;
  /** undefined when no answer ever came. */
  readonly status?: number;
  readonly body?: Record<string, unknown>;
  readonly error?: string;
}

export interface LoadOptions {
  readonly urls: readonly string[];
  readonly apiKey: string;
  readonly subject: string;
  readonly keys: readonly string[];
  readonly concurrency: number;
  /** Retry network errors and 503s with the same key until this instant (epoch ms). */
  readonly retryUntil?: number;
  /** Called after each answer (to pull a trigger mid-load). */
  readonly onAnswer?: (done: number) => void;
}

export async function consumeAll(opts: LoadOptions): Promise<Outcome[]> {
  const out: Outcome[] = new Array(opts.keys.length);
  let next = 0;
  let done = 0;
  const one = async (i: number): Promise<Outcome> => {
    const key = opts.keys[i]!;
    const url = opts.urls[i % opts.urls.length]!;
    for (;;) {
      try {
        const res = await fetch(`${url}/v1/consume`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${opts.apiKey}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify({ subject: opts.subject, feature: 'stock_reports' }),
        });
        const body = (await res.json()) as Record<string, unknown>;
        if (res.status === 503 && opts.retryUntil && Date.now() < opts.retryUntil) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        return { key, status: res.status, body };
      } catch (e) {
        if (opts.retryUntil && Date.now() < opts.retryUntil) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        return { key, error: (e as Error).cause ? String((e as Error).cause) : String(e) };
      }
    }
  };
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.keys.length) {
        const i = next++;
        out[i] = await one(i);
        opts.onAnswer?.((done += 1));
      }
    }),
  );
  return out;
}
