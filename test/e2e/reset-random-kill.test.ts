/**
 * Invariant 6 with real processes (issue 12, "Done means"): `quotaclock reset`
 * is killed with SIGKILL at random points, many times, while it catches up on
 * many months; each kill is followed by a rerun. Half of the kills are aimed
 * at the window after a period's last batch and before its run is finished
 * (the ledger row says `running` with every subject closed). The end state
 * must equal one uninterrupted run over identical data: verify exits 0, every
 * period is closed in the ledger with the same summary, and every subject has
 * each period closed exactly once, none skipped.
 *
 * QUOTACLOCK_TEST_BATCH_PAUSE_MS makes the killed runs pause after each
 * committed batch, so a kill aimed at a window lands in it. Set
 * QUOTACLOCK_TEST_KILL_SEED to replay a sequence of kills.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { createQuotaClock, policyFromConfig } from '../../src/quotaclock.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { CLI, cleanEnv, ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import { contract, type StoreLocationHandle } from '../contract/engines.js';

const NOW = '2026-12-02T00:00:00Z';
const PAUSE_MS = 30;

interface Plan {
  readonly subjects: number;
  readonly months: number;
  readonly batchSize: number;
  readonly kills: number;
}

/** Firestore's emulator is slow: fewer subjects, months and kills. */
const PLANS: Record<string, Plan> = {
  sqlite: { subjects: 2000, months: 18, batchSize: 100, kills: 20 },
  postgres: { subjects: 2000, months: 18, batchSize: 100, kills: 20 },
  firestore: { subjects: 100, months: 5, batchSize: 20, kills: 5 },
};

type KillMode = 'after-last-batch' | 'mid-period' | 'any-instant';
/** Half the kills go for the window after a period's last batch. */
const MODES: readonly KillMode[] = [
  'after-last-batch',
  'mid-period',
  'after-last-batch',
  'any-instant',
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const startOf = (plan: Plan, offset: number) => {
  const now = new Date(NOW);
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - plan.months + offset, 5);
};

function configFor(plan: Plan) {
  return {
    reset: { batchSize: plan.batchSize, leaseSeconds: 5, waitForLeaseSeconds: 10 },
    log: { level: 'silent' as const },
  };
}

/** The same subjects and usage in every location: created `months` months ago, usage spread over them. */
async function seed(url: string, plan: Plan): Promise<void> {
  const created = startOf(plan, 0);
  const qc = createQuotaClock({ config: { ...configFor(plan), store: url } });
  try {
    await qc.init();
    const plans = ['free', 'pro', 'pro_plus', 'enterprise'];
    await qc.importSubjects(
      Array.from({ length: plan.subjects }, (_, i) => ({
        id: `k${String(i).padStart(5, '0')}`,
        plan: plans[i % plans.length]!,
      })),
      { now: created },
    );
    for (let i = 0; i < plan.subjects; i += 7) {
      const month = i % plan.months;
      await qc.consume(`k${String(i).padStart(5, '0')}`, 'stock_reports', (i % 9) + 1, {
        now: startOf(plan, month) + 10 * 86_400_000,
      });
    }
  } finally {
    await qc.close();
  }
}

/** What two equal runs must agree on, read through the store's own export. */
async function state(store: QuotaStore) {
  const records: string[] = [];
  let closedPeriods = 0;
  for await (const r of store.exportRecords()) {
    if (r.type === 'closed_period') closedPeriods += 1;
    if (['subject', 'counter', 'event', 'closed_period'].includes(r.type))
      records.push(JSON.stringify(r));
  }
  const runs = (await store.listRuns(1000))
    .map((r) => ({
      key: r.key,
      status: r.status,
      subjects: r.checkpoint.subjects,
      summary: r.checkpoint.summary,
    }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  return { runs, closedPeriods, records: records.sort() };
}

function startReset(cwd: string, url: string, config: string, pause: boolean) {
  const child = spawn(
    process.execPath,
    [CLI, 'reset', '--json', '--db', url, '--config', config, '--now', NOW],
    {
      cwd,
      env: cleanEnv(pause ? { QUOTACLOCK_TEST_BATCH_PAUSE_MS: String(PAUSE_MS) } : {}),
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

contract('reset killed with SIGKILL at random points, then run again', ({ engine }) => {
  const plan = PLANS[engine.name]!;
  const config = parseConfig(configFor(plan));
  const policy = policyFromConfig(config);
  const handles: StoreLocationHandle[] = [];
  const stores: QuotaStore[] = [];
  const children = new Set<ChildProcess>();
  let cwd = '';

  beforeAll(() => {
    ensureBuilt();
    cwd = tempDir('qc-random-kill-');
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const s of stores) await s.close();
    for (const h of handles) await h.destroy();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it(`ends as one clean run after at least ${plan.kills} kills, half of them after a period's last batch`, async () => {
    const seedValue = Number(process.env.QUOTACLOCK_TEST_KILL_SEED ?? Date.now() % 1_000_000);
    const rng = random(seedValue);
    const killed = await engine.create();
    handles.push(killed);
    const straight = await engine.create();
    handles.push(straight);
    const configPath = join(cwd, `${engine.name}.json`);
    writeFileSync(configPath, JSON.stringify(configFor(plan)));
    await seed(killed.url, plan);
    await seed(straight.url, plan);
    const probe = await killed.open(policy);
    stores.push(probe);

    const clean = await startReset(cwd, straight.url, configPath, false).done;
    expect(clean.code, clean.stderr).toBe(0);

    const kills: string[] = [];
    let windowHits = 0;
    let finished = false;
    while (kills.length < plan.kills && !finished) {
      const mode = MODES[kills.length % MODES.length]!;
      // What the ledger already held: a kill is aimed at progress this process makes.
      const before = new Map(
        (await probe.unfinishedRuns()).map((r) => [r.key, r.checkpoint.subjects]),
      );
      const batches = 1 + Math.floor(rng() * (plan.subjects / plan.batchSize - 1));
      const instantMs = Math.floor(rng() * 1500);
      const run = startReset(cwd, killed.url, configPath, true);
      children.add(run.child);
      let exited = false;
      void run.done.then(() => (exited = true));
      let note = '';
      const startedMs = Date.now();
      while (!exited) {
        if (mode === 'any-instant') {
          if (Date.now() - startedMs >= instantMs) {
            note = `${instantMs} ms after start`;
            break;
          }
        } else {
          // The run this process is working on: a row it created or moved, not one left before.
          const running = (await probe.unfinishedRuns()).find(
            (r) => r.status === 'running' && r.checkpoint.subjects !== (before.get(r.key) ?? -1),
          );
          if (running) {
            const grew = running.checkpoint.subjects - (before.get(running.key) ?? 0);
            if (
              mode === 'after-last-batch' &&
              running.checkpoint.subjects >= plan.subjects &&
              grew > 0
            ) {
              note = `${running.key}: all ${running.checkpoint.subjects} subjects closed, run not finished`;
              break;
            }
            if (mode === 'mid-period' && grew >= batches * plan.batchSize) {
              note = `${running.key}: ${running.checkpoint.subjects} subjects closed`;
              break;
            }
          }
        }
        await sleep(3);
      }
      if (!exited) run.child.kill('SIGKILL');
      const exit = await run.done;
      children.delete(run.child);
      if (exit.signal === 'SIGKILL') {
        kills.push(`${mode} (${note})`);
        if (mode === 'after-last-batch') {
          // The kill landed in the window only if the run is still unfinished with every subject closed.
          const left = (await probe.unfinishedRuns()).find((r) => r.status === 'running');
          if (left && left.checkpoint.subjects >= plan.subjects) windowHits += 1;
        }
        // A killed holder's lease is taken over by the rerun on every engine that can tell
        // its holder is dead; a store that cannot would wait it out, so it is expired here.
        if (!probe.takeOverLease) {
          const sweeper = 'random-kill-test';
          await probe.acquireLease('reset', sweeper, 1_000, Date.now() + 3_600_000);
          await probe.releaseLease('reset', sweeper);
        }
      } else {
        expect(exit.code, `seed ${seedValue}: ${exit.stderr}`).toBe(0);
        finished = true;
      }
    }
    const context = `seed ${seedValue}, kills: ${kills.join('; ')}`;
    expect(kills.length, context).toBeGreaterThanOrEqual(plan.kills);
    expect(windowHits, context).toBeGreaterThanOrEqual(Math.ceil(plan.kills / 4));

    const rerun = await startReset(cwd, killed.url, configPath, false).done;
    expect(rerun.code, `${context}\n${rerun.stderr}`).toBe(0);
    const again = await startReset(cwd, killed.url, configPath, false).done;
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).periods, context).toEqual([]);
    const verify = await runCli(
      ['verify', '--db', killed.url, '--config', configPath, '--now', NOW],
      {
        cwd,
      },
    );
    expect(verify.code, `${context}\n${verify.stdout}${verify.stderr}`).toBe(0);

    const cleanStore = await straight.open(policy);
    stores.push(cleanStore);
    const a = await state(probe);
    const b = await state(cleanStore);
    expect(
      a.runs.map((r) => [r.key, r.status]),
      context,
    ).toEqual(b.runs.map((r) => [r.key, 'closed']));
    expect(a.runs, context).toEqual(b.runs);
    expect(a.runs.every((r) => r.subjects === plan.subjects)).toBe(true);
    expect(a.closedPeriods, context).toBe(plan.subjects * plan.months);
    expect(a.records.length, context).toBe(b.records.length);
    expect(a.records, context).toEqual(b.records);
  }, 300_000);
});
