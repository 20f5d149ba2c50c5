import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { redact } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  readonly level?: string;
  /** A file to append to, rotated by size and date; stderr always gets the lines too. */
  readonly file?: string | null;
  readonly maxSize?: string;
  readonly frequency?: 'daily' | 'hourly' | 'none';
  readonly keep?: number;
  /** Where non-file lines go; defaults to stderr so stdout stays for --json. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * JSON lines with a textual level ("level":"error"), so `grep -i error`
 * finds every failure in the log file, as operators of the old scripts did.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const base = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    hooks: {
      // Scrub every message and string argument before it is serialised.
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? redact(a) : a)),
        );
      },
    },
    redact: {
      paths: ['*.password', '*.pass', '*.secret', '*.token', '*.webhookUrl', '*.url'],
      censor: '[redacted]',
    },
  };
  const stderr = pino.destination({ dest: 2, sync: true });
  if (!opts.file) {
    const logger = pino(base, opts.destination ?? stderr);
    if (!opts.destination) stderrOnly.set(logger, base);
    return logger;
  }
  const frequency = opts.frequency ?? 'none';
  const keep = opts.keep ?? 10;
  // pino-roll only enforces its limit when it rotates inside one process. A
  // monthly job is a new, short process each time that opens a new dated file
  // and never rotates, so old files would pile up: enforce the bound at start.
  pruneRotatedLogs(opts.file, frequency, keep);
  // pino-roll links current.log before its stream has made the folder, and its worker dies
  // on ENOENT when the folder is new: make it here, synchronously, first.
  mkdirSync(dirname(resolve(opts.file)), { recursive: true });
  const fileStream = pino.transport({
    target: 'pino-roll',
    options: {
      file: opts.file,
      size: opts.maxSize ?? '10m',
      ...(frequency !== 'none' ? { frequency, dateFormat: DATE_FORMATS[frequency] } : {}),
      // Counts every rotated file in the folder, not only this process's, when it rotates.
      limit: { count: keep, removeOtherLogFiles: true },
      // current.log always points at the live file, for `tail -f`.
      symlink: true,
      mkdir: true,
    },
  });
  // The file has the whole story; stderr (cron's capture, a terminal) gets what needs attention.
  const stderrLevel = (pino.levels.values[level] ?? Infinity) >= 40 ? level : 'warn';
  const logger = pino(
    base,
    pino.multistream([
      { stream: opts.destination ?? stderr, level: stderrLevel as pino.Level },
      { stream: fileStream, level: level as pino.Level },
    ]),
  );
  logFiles.set(logger, resolve(opts.file));
  fileStreams.set(logger, fileStream);
  return logger;
}

/** Loggers that write every level to stderr, one synchronous write per line, with their options. */
const stderrOnly = new WeakMap<Logger, pino.LoggerOptions>();

/**
 * The logger a long-running service (`serve`) writes its one line per request
 * with. A job writes each line to stderr at once, so nothing is lost when it
 * exits a moment later; a service under load would pay a write(2) per request
 * for that. Here stderr is written asynchronously (pino's own sonic-boom mode):
 * lines written while a write is in flight go out together in the next one.
 * pino flushes what is left when the process exits, and flushLogger (on the
 * server's close) waits for it. A logger given its own destination, or writing
 * to a log file (already written by a worker thread), is returned as it is.
 */
export function serviceLogger(logger: Logger): Logger {
  const base = stderrOnly.get(logger);
  if (!base) return logger;
  const service = pino(base, pino.destination({ dest: 2, sync: false }));
  service.level = logger.level;
  return service;
}

const logFiles = new WeakMap<Logger, string>();
/** The rotating file's worker stream: multistream has no asynchronous flush, so flushLogger reaches it directly. */
const fileStreams = new WeakMap<Logger, { flush(cb: (err?: Error) => void): void }>();

/** The log file a logger writes to (as configured; current.log beside it links to the live file), or null. */
export function logFileOf(logger: Logger | undefined): string | null {
  return (logger && logFiles.get(logger)) ?? null;
}

const DATE_FORMATS = { daily: 'yyyy-MM-dd', hourly: 'yyyy-MM-dd-HH' } as const;
const DATE_PATTERNS = {
  daily: '\\d{4}-\\d{2}-\\d{2}\\.',
  hourly: '\\d{4}-\\d{2}-\\d{2}-\\d{2}\\.',
  none: '',
} as const;

/**
 * Deletes the oldest rotated files of `file` (named as pino-roll names them:
 * name.<date>.<n>.ext, or name.<n>.ext without a date) so that at most `keep`
 * remain; the process then writes to one more. Returns the deleted paths.
 */
export function pruneRotatedLogs(
  file: string,
  frequency: 'daily' | 'hourly' | 'none',
  keep: number,
): string[] {
  const dir = dirname(resolve(file));
  const name = basename(file);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [name, 'log'];
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(
    `^${escape(stem)}\\.(${DATE_PATTERNS[frequency]})?(\\d+)\\.${escape(ext)}$`,
  );
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const files = entries
    .map((f) => ({ f, m: pattern.exec(f) }))
    .filter(
      (x): x is { f: string; m: RegExpExecArray } =>
        x.m !== null && (frequency === 'none' || x.m[1] !== undefined),
    )
    .map(({ f, m }) => ({ f, date: m[1] ?? '', n: Number(m[2]) }))
    .sort((a, b) => (a.date === b.date ? a.n - b.n : a.date < b.date ? -1 : 1));
  const removed: string[] = [];
  for (const { f } of files.slice(0, Math.max(0, files.length - keep))) {
    try {
      unlinkSync(join(dir, f));
      removed.push(join(dir, f));
    } catch {
      // Already gone (another process pruned it) or not ours to delete: leave it.
    }
  }
  return removed;
}

/** Flushes asynchronous transports (the rotating file) before the process exits. */
export async function flushLogger(logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
  // Waits until the worker has written every line to the file (pino's own flush returns at once for a multistream).
  const file = fileStreams.get(logger);
  if (file) {
    await new Promise<void>((resolve) => {
      try {
        file.flush(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
