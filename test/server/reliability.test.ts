/**
 * API.md "Reliability", against real `serve` processes on every engine:
 * the 200-request race from two processes, duplicate keys, SIGTERM under
 * load, and kill -9 under load with clients retrying.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { contract, type StoreLocationHandle } from '../contract/engines.js';
import { seedKeys, startServe, type Served } from '../helpers/serve.js';
import { consumeAll } from './load.js';

const keysFor = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

contract('reliability over HTTP', ({ engine }) => {
  let handle: StoreLocationHandle;
  let qc: QuotaClock;
  let apiKey: string;
  const servers: Served[] = [];
  const serve = async (args: string[] = [], port?: number) => {
    const s = await startServe(handle.url, { args, ...(port ? { port } : {}) });
    servers.push(s);
    return s;
  };
  beforeAll(async () => {
    handle = await engine.create();
    apiKey = (await seedKeys(handle.url, { load: ['quota:write'] })).load!;
    qc = createQuotaClock({ config: { store: handle.url } });
  });
  afterAll(async () => {
    for (const s of servers) await s.stop('SIGKILL');
    await qc?.close();
    await handle?.destroy();
  });

  /** Invariant 2 for one subject: the counter equals the sum of its events. */
  const ledger = async (subject: string) => {
    const used = (await qc.status(subject)).features.stock_reports!.used;
    let sum = 0;
    const keys = new Set<string>();
    let after: string | null = null;
    do {
      const page = await qc.subjectEvents(subject, { limit: 1000, ...(after ? { after } : {}) });
      for (const e of page.items) {
        // A denied consume is in the ledger too, marked granted: false; it counts nothing.
        if (e.kind === 'consume' && e.granted === false) continue;
        sum += e.kind === 'consume' ? e.amount : e.kind === 'refund' ? -e.amount : 0;
        if (e.kind === 'consume' && e.key) keys.add(e.key);
      }
      after = page.next;
    } while (after);
    return { used, sum, keys };
  };

  it('200 concurrent consumes from two serve processes at a subject with 10 left: exactly 10 granted', async () => {
    const [a, b] = await Promise.all([serve(), serve()]);
    await qc.addSubject({ id: 'race', plan: 'pro' }); // 45 a month
    await qc.consume('race', 'stock_reports', 35); // 10 left
    const outcomes = await consumeAll({
      urls: [a!.url, b!.url],
      apiKey,
      subject: 'race',
      keys: keysFor('race', 200),
      concurrency: 200,
    });
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    const granted = outcomes.filter((o) => o.body?.granted === true);
    expect(granted).toHaveLength(10);
    expect(outcomes.filter((o) => o.body?.reason === 'quota_exceeded')).toHaveLength(190);
    const l = await ledger('race');
    expect(l.used).toBe(45);
    expect(l.sum).toBe(45);
  });

  it('every request sent twice with the same key counts once, and the replays match', async () => {
    const [a, b] = servers.length >= 2 ? servers : await Promise.all([serve(), serve()]);
    await qc.addSubject({ id: 'twice', plan: 'pro_plus' }); // 100 a month
    const keys = keysFor('twice', 60);
    // Each key goes to both processes at the same time, then once more after.
    const first = await consumeAll({
      urls: [a!.url, b!.url],
      apiKey,
      subject: 'twice',
      keys: keys.flatMap((k) => [k, k]),
      concurrency: 40,
    });
    const again = await consumeAll({
      urls: [b!.url],
      apiKey,
      subject: 'twice',
      keys,
      concurrency: 20,
    });
    const byKey = new Map<string, Record<string, unknown>[]>();
    for (const o of [...first, ...again]) {
      // 409 IDEMPOTENCY_KEY_IN_FLIGHT is allowed for a duplicate that races its original.
      if (o.status === 409) continue;
      expect(o.status).toBe(200);
      byKey.set(o.key, [...(byKey.get(o.key) ?? []), o.body!]);
    }
    for (const k of keys) {
      const answers = byKey.get(k)!;
      const fresh = answers.filter((r) => r.replayed !== true);
      expect(fresh).toHaveLength(1);
      for (const r of answers) {
        const { replayed: _r, ...rest } = r;
        expect(rest).toEqual(fresh[0]);
      }
    }
    const l = await ledger('twice');
    expect(l.used).toBe(60);
    expect(l.sum).toBe(60);
    expect(l.keys.size).toBe(60);
  });

  if (engine.name === 'firestore') return; // Firestore runs the API suites and the race (issue 14).

  it('SIGTERM under load: every request the server took is answered, and it exits 0', async () => {
    const s = await serve();
    await qc.addSubject({ id: 'term', plan: 'enterprise' });
    // Batches of 50 consumes keep requests in flight long enough for the signal to land mid-request.
    const answered = new Set<string>();
    const statuses: number[] = [];
    let sent = 0;
    let fired = false;
    const client = async (c: number) => {
      for (let r = 0; ; r++) {
        const keys = Array.from({ length: 50 }, (_, i) => `term-${c}-${r}-${i}`);
        let res: Response;
        try {
          res = await fetch(`${s.url}/v1/batch`, {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              items: keys.map((key) => ({
                op: 'consume',
                subject: 'term',
                feature: 'stock_reports',
                key,
              })),
            }),
          });
        } catch {
          return; // not connected, or dropped before the server read it: the server stopped taking requests
        }
        statuses.push(res.status);
        const body = (await res.json()) as { results?: unknown[] };
        if (res.status === 200) for (const k of keys) answered.add(k);
        else expect(body).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        if ((sent += 1) === 30 && !fired) {
          fired = true;
          s.child.kill('SIGTERM');
        }
        if (res.status !== 200) return;
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, c) => client(c)));
    expect(fired).toBe(true);
    expect((await s.exited).code).toBe(0);
    const l = await ledger('term');
    // Any consume the store has was taken by the server in a request: its client must have had the answer.
    const unanswered = [...l.keys].filter((k) => !answered.has(k));
    expect(unanswered).toEqual([]);
    expect(answered.size).toBeGreaterThanOrEqual(30 * 50);
    // Late requests were refused as 503 (with Connection: close), or not connected at all.
    for (const status of statuses) expect([200, 503]).toContain(status);
    expect(l.used).toBe(l.sum);
  });

  it('kill -9 under load, a restart, clients retrying with their keys: counters = sum of events = distinct keys granted', async () => {
    const s = await serve();
    const port = Number(new URL(s.url).port);
    await qc.addSubject({ id: 'crash', plan: 'pro_plus' }); // 100 a month
    let killed = false;
    let restarted: Promise<Served> | undefined;
    const outcomes = await consumeAll({
      urls: [s.url],
      apiKey,
      subject: 'crash',
      keys: keysFor('crash', 160),
      concurrency: 24,
      retryUntil: Date.now() + 90_000,
      onAnswer: (done) => {
        if (done === 40 && !killed) {
          killed = true;
          s.child.kill('SIGKILL');
          restarted = s.exited.then(() => serve([], port));
        }
      },
    });
    expect(killed).toBe(true);
    await restarted;
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    const granted = new Set(outcomes.filter((o) => o.body!.granted === true).map((o) => o.key));
    const l = await ledger('crash');
    expect(l.used).toBe(l.sum);
    expect(l.used).toBe(granted.size);
    expect([...l.keys].sort()).toEqual([...granted].sort());
    expect(l.used).toBe(100);
  });
});
