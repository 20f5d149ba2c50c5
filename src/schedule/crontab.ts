import { spawnSync } from 'node:child_process';
import { QuotaClockError } from '../core/errors.js';
import { beginMarker, endMarker } from './targets/cron.js';

/** Where quotaclock's block sits in a crontab, by line index (inclusive). */
export interface BlockPosition {
  readonly begin: number;
  readonly end: number;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  return text.replace(/\n$/, '').split('\n');
}

const isBegin = (line: string, name: string) =>
  line === beginMarker(name) || line.startsWith(`${beginMarker(name)}:`);

/** Finds the named block; refuses a crontab where a marker was edited by hand, rather than guess. */
export function findBlock(lines: readonly string[], name: string): BlockPosition | null {
  const begins = lines.flatMap((l, i) => (isBegin(l, name) ? [i] : []));
  const ends = lines.flatMap((l, i) => (l === endMarker(name) ? [i] : []));
  if (begins.length === 0 && ends.length === 0) return null;
  if (begins.length !== 1 || ends.length !== 1 || ends[0]! < begins[0]!) {
    throw new QuotaClockError(
      'SCHEDULE_FAILED',
      `the crontab has ${begins.length} "${beginMarker(name)}" and ${ends.length} "${endMarker(name)}" marker line(s); fix it with \`crontab -e\` so there is one block or none, then run this again`,
      { where: 'crontab' },
    );
  }
  return { begin: begins[0]!, end: ends[0]! };
}

/**
 * The crontab with the block replaced, or appended when absent. Every other
 * line stays as it was. The block goes last: a CRON_TZ line inside it then
 * applies to no one else's line.
 */
export function upsertBlock(
  crontab: string,
  name: string,
  block: readonly string[],
): { text: string; replaced: boolean } {
  const lines = splitLines(crontab);
  const at = findBlock(lines, name);
  const kept = at ? [...lines.slice(0, at.begin), ...lines.slice(at.end + 1)] : lines;
  return { text: `${[...kept, ...block].join('\n')}\n`, replaced: at !== null };
}

export function removeBlock(crontab: string, name: string): { text: string; removed: boolean } {
  const lines = splitLines(crontab);
  const at = findBlock(lines, name);
  if (!at) return { text: crontab, removed: false };
  const kept = [...lines.slice(0, at.begin), ...lines.slice(at.end + 1)];
  return { text: kept.length ? `${kept.join('\n')}\n` : '', removed: true };
}

/** The lines of the named block, or null. */
export function readBlock(crontab: string, name: string): string[] | null {
  const lines = splitLines(crontab);
  const at = findBlock(lines, name);
  return at ? lines.slice(at.begin, at.end + 1) : null;
}

const userArgs = (user: string | null) => (user ? ['-u', user] : []);

/** `crontab -l`; an absent crontab reads as empty. */
export function readCrontab(user: string | null = null): string {
  const r = spawnSync('crontab', [...userArgs(user), '-l'], { encoding: 'utf8' });
  if (r.error) {
    throw new QuotaClockError(
      'SCHEDULE_FAILED',
      `cannot run crontab: ${r.error.message} (install cron: apt-get install cron, dnf install cronie)`,
      {
        cause: r.error,
      },
    );
  }
  if (r.status === 0) return r.stdout;
  if (/no crontab for/i.test(r.stderr)) return '';
  throw new QuotaClockError(
    'SCHEDULE_FAILED',
    `crontab -l failed: ${r.stderr.trim() || `exit ${r.status}`}`,
  );
}

/** `crontab -` with the whole new table on stdin. */
export function writeCrontab(text: string, user: string | null = null): void {
  const r = spawnSync('crontab', [...userArgs(user), '-'], { input: text, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new QuotaClockError(
      'SCHEDULE_FAILED',
      `crontab - failed: ${r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)}`,
    );
  }
}
