/**
 * Holder ids and the same-host liveness check: a pid is judged only in the pid
 * namespace it belongs to, and only a pid that is certainly gone counts as dead.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { holderIsDeadHere, newHolderId } from '../../src/jobs/holder-id.js';

async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

it('names the host, the pid, a random part and the pid namespace', () => {
  const [host, pid, random, space, ...rest] = newHolderId().split(':');
  expect(host).toBe(hostname());
  expect(pid).toBe(String(process.pid));
  expect(random).toMatch(/^[0-9a-f]{8}$/);
  expect(space).toMatch(/^[0-9a-f]{12}$/);
  expect(rest).toEqual([]);
  expect(newHolderId()).not.toBe(newHolderId());
});

it('is dead only for a gone pid in this pid namespace', async () => {
  const [host, , random, space] = newHolderId().split(':');
  const gone = await exitedPid();
  expect(holderIsDeadHere(`${host}:${gone}:${random}:${space}`)).toBe(true);
  expect(holderIsDeadHere(`${host}:${process.pid}:${random}:${space}`)).toBe(false);
  // The same host name and a gone pid, but another namespace (a container, a sandbox).
  expect(holderIsDeadHere(`${host}:${gone}:${random}:0123456789ab`)).toBe(false);
  // An id in the older format carries no namespace: its lease is waited out.
  expect(holderIsDeadHere(`${host}:${gone}:${random}`)).toBe(false);
  expect(holderIsDeadHere('someone-else')).toBe(false);
  expect(holderIsDeadHere(`${host}:x1:${random}:${space}`)).toBe(false);
});
