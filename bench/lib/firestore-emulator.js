// Google's Firestore emulator for benchmarks: the one FIRESTORE_EMULATOR_HOST
// names, or one started here on a free port and stopped at the end.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
/* global fetch, AbortSignal */

const BIN =
  process.env.QUOTACLOCK_FIRESTORE_EMULATOR ??
  '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator';

async function answers(host) {
  try {
    const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(2000) });
    return res.ok && (await res.text()).trim() === 'Ok';
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Returns { host, stop() } and sets FIRESTORE_EMULATOR_HOST. */
export async function emulator() {
  const given = process.env.FIRESTORE_EMULATOR_HOST;
  if (given) {
    if (!(await answers(given)))
      throw new Error(`no Firestore emulator answers at FIRESTORE_EMULATOR_HOST=${given}`);
    return { host: given, stop: async () => undefined };
  }
  if (!existsSync(BIN)) throw new Error(`the Firestore emulator is not installed at ${BIN}`);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // A watchdog shell leads the process group and ends the emulator if this process dies.
  const watchdog = [
    '"$0" start --host=127.0.0.1 --port="$1" &',
    'emulator=$!',
    "trap 'kill -TERM -$$ 2>/dev/null; exit 0' TERM INT",
    'while kill -0 "$2" 2>/dev/null && kill -0 "$emulator" 2>/dev/null; do sleep 1; done',
    'kill -TERM -$$ 2>/dev/null',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', watchdog, BIN, String(port), String(process.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    await Promise.race([gone, sleep(5000)]);
  };
  process.once('exit', () => {
    if (!exited) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  });
  const deadline = Date.now() + 90_000;
  while (!(await answers(host))) {
    if (exited || Date.now() > deadline) throw new Error('the Firestore emulator did not start');
    await sleep(200);
  }
  process.env.FIRESTORE_EMULATOR_HOST = host;
  return { host, stop };
}
