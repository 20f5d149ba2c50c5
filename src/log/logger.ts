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
    redact: { paths: ['*.password', '*.pass', '*.secret', '*.token', '*.webhookUrl', '*.url'], censor: '[redacted]' },
  };
  const stderr = pino.destination({ dest: 2, sync: true });
  if (!opts.file) return pino(base, opts.destination ?? stderr);
  const fileStream = pino.transport({
    target: 'pino-roll',
    options: {
      file: opts.file,
      size: opts.maxSize ?? '10m',
      ...(opts.frequency && opts.frequency !== 'none'
        ? { frequency: opts.frequency, dateFormat: opts.frequency === 'daily' ? 'yyyy-MM-dd' : 'yyyy-MM-dd-HH' }
        : {}),
      // Counts every rotated file in the folder, not only this process's: a monthly
      // job is a new process each time, and the bound must hold across runs.
      limit: { count: opts.keep ?? 10, removeOtherLogFiles: true },
      // current.log always points at the live file, for `tail -f`.
      symlink: true,
      mkdir: true,
    },
  });
  return pino(base, pino.multistream([{ stream: opts.destination ?? stderr, level: level as pino.Level }, { stream: fileStream, level: level as pino.Level }]));
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
}
