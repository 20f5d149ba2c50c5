import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Where this process's pid means something: on Linux, this pid namespace on
 * this running kernel (boot id + namespace inode), because containers and
 * serverless sandboxes share host names ("localhost") and reuse small pids;
 * elsewhere the host name. null when Linux hides either, and then no holder
 * is ever judged dead by its pid.
 */
function pidSpace(): string | null {
  let where: string;
  if (process.platform === 'linux') {
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      where = `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
    } catch {
      return null;
    }
  } else {
    where = `host/${hostname()}`;
  }
  return createHash('sha256').update(where).digest('hex').slice(0, 12);
}

const SPACE = pidSpace();

/** `host:pid:random:space`: readable in `runs`, unique per acquisition, and checkable by liveHere. */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}:${SPACE ?? '-'}`;
}

/**
 * True only when a holder id names a process in this pid space that no
 * longer exists. Anything else (another host or container, an id in an older
 * format, a pid that is alive or was reused) is false: the lease then expires.
 */
export function holderIsDeadHere(holder: string): boolean {
  const parts = holder.split(':');
  if (parts.length !== 4 || SPACE === null || parts[3] !== SPACE) return false;
  const pid = parts[1]!;
  if (!/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
