import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  app as azureApp,
  InvocationContext,
  type Timer,
  type TimerFunctionOptions,
} from '@azure/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createQuotaClock } from '../../src/quotaclock.js';
import { createHandler, handler as defaultHandler } from '../../src/entry/aws.js';
import { createTimerHandler, registerResetTimer } from '../../src/entry/azure.js';
import { ensureBuilt, ROOT, seedProject, tempDir } from './helpers.js';

/** A store with September usage waiting to be closed. */
async function seededStore(): Promise<string> {
  return (await seedProject(tempDir('qc-entry-'))).db;
}

/** A file that is not a SQLite database: opening it fails inside the reset. */
function corruptStore(): string {
  const path = join(tempDir('qc-entry-bad-'), 'broken.db');
  writeFileSync(path, randomBytes(8192));
  return path;
}

async function closedKeys(db: string): Promise<string[]> {
  const qc = createQuotaClock({ config: { store: db } });
  try {
    return (await (await qc.store()).listRuns(24))
      .filter((r) => r.status === 'closed')
      .map((r) => r.key);
  } finally {
    await qc.close();
  }
}

beforeAll(() => {
  process.env.QUOTACLOCK_LOG_LEVEL = 'silent';
});

describe('AWS Lambda handler (quotaclock/aws)', () => {
  /** What EventBridge Scheduler sends with the SAM template's Input, context attributes filled in. */
  const schedulerEvent = {
    source: 'quotaclock.schedule',
    scheduleArn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/default/quotaclock-reset',
    scheduledTime: '2026-10-01T00:01:00Z',
    executionId: 'd32c5kddcf5bb8c3',
    attemptNumber: '1',
  };
  const lambdaContext = {
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    functionName: 'QuotaclockReset',
  };

  it('closes the ended periods for a real EventBridge Scheduler payload', async () => {
    const db = await seededStore();
    const result = await createHandler({ config: { store: db } })(schedulerEvent, lambdaContext);
    expect(result).toMatchObject({
      ok: true,
      trigger: 'aws',
      dryRun: false,
      outcome: 'ok',
      scheduledTime: '2026-10-01T00:01:00Z',
      attempt: 1,
    });
    expect(result.closed.map((p) => p.key)).toContain('2026-09');
    expect(await closedKeys(db)).toContain('2026-09');
  });

  it('accepts a plain EventBridge rule "Scheduled Event" too', async () => {
    const db = await seededStore();
    const ruleEvent = {
      version: '0',
      id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      time: '2026-10-01T00:01:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:123456789012:rule/quotaclock-reset'],
      detail: {},
    };
    const result = await createHandler({ config: { store: db } })(ruleEvent, lambdaContext);
    expect(result.scheduledTime).toBe('2026-10-01T00:01:00Z');
    expect(result.closed.length).toBeGreaterThan(0);
  });

  it('a {"dryRun": true} invoke writes nothing', async () => {
    const db = await seededStore();
    const result = await createHandler({ config: { store: db } })({ dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(await closedKeys(db)).toEqual([]);
  });

  it('failure comes back as a failed invocation (a thrown error), never a resolved 500', async () => {
    const db = corruptStore();
    const outcome = createHandler({ config: { store: db } })(schedulerEvent, lambdaContext);
    await expect(outcome).rejects.toMatchObject({
      code: expect.stringMatching(/^(INTERNAL|STORE_UNAVAILABLE|STORE_FAILURE|RESET_FAILED)$/),
    });
  });

  it('the exported handler reads the store from the environment, as deployed', async () => {
    const db = await seededStore();
    vi.stubEnv('QUOTACLOCK_DB', db);
    try {
      const result = await defaultHandler(schedulerEvent, lambdaContext);
      expect(result.closed.map((p) => p.key)).toContain('2026-09');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('Azure Functions timer (quotaclock/azure)', () => {
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: true },
    scheduleStatus: {
      last: '2026-09-01T00:01:00.000Z',
      next: '2026-10-01T00:01:00.000Z',
      lastUpdated: '2026-09-01T00:01:00.000Z',
    },
  };
  const context = (logs: string[]) =>
    new InvocationContext({
      invocationId: 'b5d7e1a2-0000-4000-8000-000000000001',
      functionName: 'quotaclockReset',
      logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
    });

  it('registers app.timer with NCRONTAB 0 1 0 1 * * and a retry policy', async () => {
    const registered: Array<{ name: string; options: TimerFunctionOptions }> = [];
    const db = await seededStore();
    registerResetTimer({
      app: { timer: (name, options) => registered.push({ name, options }) },
      config: { store: db },
    });
    expect(registered).toHaveLength(1);
    expect(registered[0]!.name).toBe('quotaclockReset');
    expect(registered[0]!.options).toMatchObject({
      schedule: '0 1 0 1 * *',
      runOnStartup: false,
      retry: { strategy: 'fixedDelay', maxRetryCount: 3, delayInterval: { minutes: 5 } },
    });
    // The registered handler, invoked the way the Functions host does, with an InvocationContext.
    const logs: string[] = [];
    await registered[0]!.options.handler(timer, context(logs));
    expect(logs.join('\n')).toMatch(/information: quotaclock reset closed 2026-09 \(1 subjects\)/);
    expect(await closedKeys(db)).toContain('2026-09');
  });

  it('the real @azure/functions app accepts the registration', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const spy = vi.spyOn(azureApp, 'timer');
    try {
      registerResetTimer({ name: 'quotaclockResetTest' });
      expect(spy).toHaveBeenCalledWith(
        'quotaclockResetTest',
        expect.objectContaining({ schedule: '0 1 0 1 * *' }),
      );
    } finally {
      spy.mockRestore();
      warn.mockRestore();
    }
  });

  it('a past-due timer runs and says so', async () => {
    const logs: string[] = [];
    await createTimerHandler({ config: { store: await seededStore() } })(
      { ...timer, isPastDue: true },
      context(logs),
    );
    expect(logs.join('\n')).toMatch(/warning: the timer is past due/);
  });

  it('failure comes back as failure: the handler rejects and logs an error', async () => {
    const logs: string[] = [];
    await expect(
      createTimerHandler({ config: { store: corruptStore() } })(timer, context(logs)),
    ).rejects.toHaveProperty('code');
    expect(logs.join('\n')).toMatch(/error: quotaclock reset failed/);
  });
});

describe('Google Cloud Functions (quotaclock/gcp), served by @google-cloud/functions-framework', () => {
  const servers: ChildProcess[] = [];
  let source = '';

  beforeAll(() => {
    ensureBuilt();
    // A deployable source directory, like examples/gcp, pointing at this build.
    source = tempDir('qc-gcf-');
    writeFileSync(
      join(source, 'package.json'),
      JSON.stringify({ type: 'module', main: 'index.js' }),
    );
    writeFileSync(
      join(source, 'index.js'),
      `export * from ${JSON.stringify(join(ROOT, 'dist/entry/gcp.js'))};\n`,
    );
  });

  afterEach(() => {
    for (const s of servers.splice(0)) s.kill('SIGTERM');
  });
  afterAll(() => {
    for (const s of servers) s.kill('SIGKILL');
  });

  async function freePort(): Promise<number> {
    return new Promise((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
  }

  async function serve(target: string, db: string, signatureType = 'http'): Promise<string> {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'),
        `--target=${target}`,
        `--port=${port}`,
        `--source=${source}`,
        `--signature-type=${signatureType}`,
      ],
      {
        env: { ...process.env, QUOTACLOCK_DB: db, QUOTACLOCK_LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    servers.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await fetch(url, { method: 'OPTIONS' });
        return url;
      } catch {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`functions-framework did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  it('HTTP: 200 after a reset, and the periods are closed', async () => {
    const db = await seededStore();
    const url = await serve('quotaclockReset', db);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      ok: boolean;
      trigger: string;
      closed: Array<{ key: string }>;
    };
    expect(body).toMatchObject({ ok: true, trigger: 'gcp' });
    expect(body.closed.map((p) => p.key)).toContain('2026-09');
    expect(await closedKeys(db)).toContain('2026-09');
    // Again: already closed, still 200 (exactly-once close).
    const again = await fetch(url, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { closed: unknown[] }).closed).toEqual([]);
  });

  it('HTTP: ?dryRun=1 writes nothing; GET is refused', async () => {
    const db = await seededStore();
    const url = await serve('quotaclockReset', db);
    const res = await fetch(`${url}?dryRun=1`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { dryRun: boolean }).dryRun).toBe(true);
    expect(await closedKeys(db)).toEqual([]);
    expect((await fetch(url)).status).toBe(405);
  });

  it('HTTP: 500 with the error code on a store failure', async () => {
    const url = await serve('quotaclockReset', corruptStore());
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { ok: boolean; error: { code: string; message: string } };
    expect(body.ok).toBe(false);
    expect(body.error.code).toMatch(/^(INTERNAL|STORE_FAILURE|RESET_FAILED)$/);
  });

  const pubsubEvent = (payload: unknown) => ({
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-source': '//pubsub.googleapis.com/projects/my-project/topics/quotaclock-reset',
      'ce-id': '8711125370212346',
      'ce-time': '2026-10-01T00:01:00.000Z',
    },
    body: JSON.stringify({
      message: {
        data: Buffer.from(JSON.stringify(payload)).toString('base64'),
        messageId: '8711125370212346',
        publishTime: '2026-10-01T00:01:00.000Z',
      },
      subscription: 'projects/my-project/subscriptions/eventarc-quotaclock-reset',
    }),
  });

  it('Pub/Sub CloudEvent: success is 2xx and the periods are closed; failure is a 5xx (redelivered)', async () => {
    const db = await seededStore();
    const url = await serve('quotaclockResetPubSub', db, 'cloudevent');
    const ok = await fetch(url, pubsubEvent({}));
    expect(ok.status).toBeGreaterThanOrEqual(200);
    expect(ok.status).toBeLessThan(300);
    expect(await closedKeys(db)).toContain('2026-09');

    const badUrl = await serve('quotaclockResetPubSub', corruptStore(), 'cloudevent');
    const bad = await fetch(badUrl, pubsubEvent({}));
    expect(bad.status).toBeGreaterThanOrEqual(500);
  });
});
