/**
 * Google's Firestore emulator for the suites. One emulator serves a whole
 * run: the global setup (test/helpers/firestore-global-setup.ts) or .ci/run
 * starts it and exports FIRESTORE_EMULATOR_HOST; a suite started some other
 * way starts its own on a free port and stops it when its process exits.
 * Each store under test gets its own project id, so nothing is shared.
 *
 * A missing emulator is reported as a reason string: suites skip with it
 * printed, except under CI=true, where they fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { inject } from 'vitest';

export const EMULATOR_BIN =
  process.env.QUOTACLOCK_FIRESTORE_EMULATOR ??
  '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator';

/** $0: launcher, $1: port, $2: the pid whose death ends the emulator. */
export const WATCHDOG = [
  '"$0" start --host=127.0.0.1 --port="$1" &',
  'emulator=$!',
  "trap 'kill -TERM -$$ 2>/dev/null; exit 0' TERM INT",
  'while kill -0 "$2" 2>/dev/null && kill -0 "$emulator" 2>/dev/null; do sleep 1; done',
  'kill -TERM -$$ 2>/dev/null',
].join('\n');

export interface EmulatorHandle {
  /** host:port, as FIRESTORE_EMULATOR_HOST expects. */
  readonly host: string;
  /** Whether this process started it (and stops it). */
  readonly owned: boolean;
  stop(): Promise<void>;
  /** Signals the emulator's process group at once (for exit handlers, which cannot wait). */
  signal(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when an emulator answers at host ("Ok" on GET /). */
export async function emulatorAnswers(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(2000) });
    return res.ok && (await res.text()).trim() === 'Ok';
  } catch {
    return false;
  }
}

/** Why the emulator cannot run here, or null when it can. */
export function emulatorMissing(): string | null {
  if (process.env.FIRESTORE_EMULATOR_HOST) return null;
  if (!existsSync(EMULATOR_BIN)) {
    return (
      `Google's Firestore emulator is not installed at ${EMULATOR_BIN} ` +
      '(gcloud components install cloud-firestore-emulator, with Java 17; ' +
      'or set FIRESTORE_EMULATOR_HOST to a running one)'
    );
  }
  return null;
}

/**
 * Starts an emulator on a free port and waits until it answers. The
 * launcher is a shell script that runs java as its child, so the whole
 * process group is signalled on stop.
 */
export async function startEmulator(timeoutMs = 90_000): Promise<EmulatorHandle> {
  const missing = emulatorMissing();
  if (missing) throw new Error(missing);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // A watchdog shell leads the process group: it ends the emulator (a launcher
  // script running java) when this process dies, even by SIGKILL, so a killed
  // test run never leaves a JVM behind.
  const child: ChildProcess = spawn(
    '/bin/sh',
    ['-c', WATCHDOG, EMULATOR_BIN, String(port), String(process.pid)],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const stop = async () => {
    if (exited || child.pid === undefined) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const killed = await Promise.race([gone.then(() => true), sleep(5000).then(() => false)]);
    if (!killed) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await gone;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await emulatorAnswers(host))) {
    if (exited) throw new Error(`the Firestore emulator exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `the Firestore emulator did not answer on ${host} within ${timeoutMs} ms:\n${output}`,
      );
    }
    await sleep(200);
  }
  child.stdout?.removeListener('data', keep);
  child.stderr?.removeListener('data', keep);
  child.stdout?.resume();
  child.stderr?.resume();
  child.unref();
  const signal = () => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  return { host, owned: true, stop, signal };
}

/** The host the global setup provided, when running under vitest. */
function injected(): string | undefined {
  try {
    return inject('firestoreEmulatorHost') || undefined;
  } catch {
    return undefined;
  }
}

let shared: Promise<EmulatorHandle> | undefined;

/**
 * The emulator for this process: the one named by FIRESTORE_EMULATOR_HOST,
 * or one started here (stopped when the process exits). Sets
 * FIRESTORE_EMULATOR_HOST so that the Firestore client finds it.
 */
export function firestoreEmulator(): Promise<EmulatorHandle> {
  shared ??= (async () => {
    const given = process.env.FIRESTORE_EMULATOR_HOST ?? injected();
    if (given) {
      process.env.FIRESTORE_EMULATOR_HOST = given;
      if (!(await emulatorAnswers(given))) {
        throw new Error(
          `FIRESTORE_EMULATOR_HOST=${given} is set but no Firestore emulator answers there`,
        );
      }
      return { host: given, owned: false, stop: async () => undefined, signal: () => undefined };
    }
    const handle = await startEmulator();
    process.env.FIRESTORE_EMULATOR_HOST = handle.host;
    process.once('exit', () => handle.signal());
    return handle;
  })();
  return shared;
}

/** Deletes every document of one project on the emulator (its REST reset endpoint). */
export async function clearProject(host: string, projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, {
    method: 'DELETE',
  }).catch(() => undefined);
}

let seq = 0;
/** A project id no other test uses (the emulator keeps projects apart). */
export function uniqueProjectId(prefix = 'qc'): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`.toLowerCase();
}

/**
 * A describe block that needs the emulator: skipped with the reason printed
 * when it is missing, failed under CI=true.
 */
export async function emulatorDescribe(
  title: string,
  body: (emulator: EmulatorHandle) => void,
): Promise<void> {
  const { describe, it } = await import('vitest');
  let handle: EmulatorHandle | null = null;
  let missing: string | null = null;
  try {
    handle = await firestoreEmulator();
  } catch (e) {
    missing = (e as Error).message;
  }
  if (handle) {
    describe(title, () => body(handle!));
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      it('needs the Firestore emulator under CI=true', () => {
        throw new Error(`the Firestore emulator is missing and CI=true: ${missing}`);
      });
    });
  } else {
    console.warn(`[firestore] skipping ${title}: ${missing}`);
    describe.skip(`${title} (skipped: ${missing})`, () => {
      it('skipped', () => undefined);
    });
  }
}
