import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { canonicalTimeZone } from '../core/time-zone.js';

/**
 * The zone the cron daemon uses: the system's /etc/localtime (cron is started
 * without TZ), not this process's TZ, which a shell or a test may have set.
 */
export function systemTimeZone(): string {
  try {
    const link = readlinkSync('/etc/localtime');
    const m = /zoneinfo\/(.+)$/.exec(link);
    if (m) return canonicalTimeZone(m[1]!);
  } catch {
    // not a symlink (or no file): try the Debian file, then the C library default
  }
  try {
    const name = readFileSync('/etc/timezone', 'utf8').trim();
    if (name) return canonicalTimeZone(name);
  } catch {
    // absent
  }
  // Without /etc/localtime the C library uses UTC.
  return existsSync('/etc/localtime')
    ? canonicalTimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone)
    : 'UTC';
}

/** Same instant rules: "UTC" and "Etc/UTC" are one zone. */
export function sameZone(a: string, b: string): boolean {
  const norm = (z: string) => {
    const c = canonicalTimeZone(z);
    return [
      'UTC',
      'Etc/UTC',
      'Etc/UCT',
      'UCT',
      'Etc/Universal',
      'Universal',
      'Etc/Zulu',
      'Zulu',
      'GMT',
      'Etc/GMT',
    ].includes(c)
      ? 'UTC'
      : c;
  };
  return norm(a) === norm(b);
}

export type CronFlavor = 'debian' | 'cronie' | 'other' | 'none';

/**
 * Which cron daemon is installed, for the one difference that matters here:
 * cronie honours CRON_TZ, Debian's cron (3.0pl1, also Ubuntu's default) does not.
 */
export function cronFlavor(): CronFlavor {
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', 'cron'], {
    encoding: 'utf8',
  });
  if (dpkg.status === 0 && /install ok installed 3\.0pl1/.test(dpkg.stdout)) return 'debian';
  const rpm = spawnSync('rpm', ['-q', 'cronie'], { encoding: 'utf8' });
  if (rpm.status === 0) return 'cronie';
  for (const bin of ['/usr/sbin/crond', '/usr/sbin/cron', '/usr/bin/crond']) {
    if (!existsSync(bin)) continue;
    try {
      return readFileSync(bin).includes('CRON_TZ') ? 'cronie' : 'other';
    } catch {
      return 'other';
    }
  }
  return 'none';
}

/** True when a process named cron or crond is running (read from /proc, no ps needed). */
export function cronRunning(): boolean {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (name === 'cron' || name === 'crond') return true;
      } catch {
        // the process is gone
      }
    }
  } catch {
    // no /proc (macOS): unknown, reported as not running
  }
  return false;
}
