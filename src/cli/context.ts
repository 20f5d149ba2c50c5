import type { QuotaClock } from '../quotaclock.js';
import type { Logger } from '../log/logger.js';
import { parseInstant } from '../core/period.js';
import { BadInputError } from '../core/errors.js';

export interface GlobalOptions {
  db?: string;
  config?: string;
  now?: string;
  json?: boolean;
  logFile?: string;
  logLevel?: string;
  verbose?: boolean;
}

/**
 * What every command gets. Config, the service and the logger are built on
 * first use, so `quotaclock plans --help` never opens a database.
 */
export class CliContext {
  private qcPromise: Promise<QuotaClock> | undefined;
  private log: Logger | undefined;
  readonly nowMs: number | undefined;

  /** createsStore: the command may create the database (init, users import, restore, keys create); others need one. */
  constructor(
    readonly opts: GlobalOptions,
    private readonly access: { readonly createsStore?: boolean } = {},
  ) {
    const now = opts.now ?? process.env.QUOTACLOCK_NOW;
    this.nowMs = now ? parseInstant(now, opts.now ? '--now' : 'QUOTACLOCK_NOW') : undefined;
    if (
      opts.logLevel &&
      !['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(opts.logLevel)
    ) {
      throw new BadInputError(
        `--log-level: expected one of trace, debug, info, warn, error, fatal, silent`,
        '--log-level',
      );
    }
  }

  get json(): boolean {
    return this.opts.json ?? false;
  }

  quotaclock(): Promise<QuotaClock> {
    this.qcPromise ??= (async () => {
      const [{ loadConfig }, { createQuotaClock }, { notifyObservers }] = await Promise.all([
        import('../config/load.js'),
        import('../quotaclock.js'),
        import('../notify/thresholds.js'),
      ]);
      const { config } = loadConfig({
        ...(this.opts.config ? { file: this.opts.config } : {}),
        ...(this.opts.verbose ? { verbose: true } : {}),
        ...(this.opts.db !== undefined ? { store: this.opts.db } : {}),
      });
      const fixed = this.nowMs;
      const clock = fixed === undefined ? undefined : () => fixed;
      return createQuotaClock({
        config,
        createStore: this.access.createsStore === true,
        observers: notifyObservers(config, undefined, clock),
        ...(clock ? { clock } : {}),
      });
    })();
    return this.qcPromise;
  }

  /** The job logger: JSON lines on stderr plus the rotating log file when configured. */
  async logger(): Promise<Logger> {
    if (this.log) return this.log;
    const qc = await this.quotaclock();
    const { createLogger } = await import('../log/logger.js');
    const cfg = qc.config.log;
    this.log = createLogger({
      level: this.opts.logLevel ?? cfg.level,
      file: this.opts.logFile ?? cfg.file,
      maxSize: cfg.maxSize,
      frequency: cfg.frequency,
      keep: cfg.keep,
    });
    return this.log;
  }

  async dispose(): Promise<void> {
    // Safe to drop: a config that failed to load was already reported; there is nothing to close.
    const qc = await this.qcPromise?.catch(() => undefined);
    await qc?.close().catch((e: unknown) => {
      // Safe to drop: the command has finished and its result is out; the process exits next,
      // which releases the store's connections and file handles anyway.
      this.log?.debug({ err: e }, 'could not close the store cleanly on exit');
    });
    // Flushed last, so lines written while closing (threshold deliveries draining) are kept.
    if (this.log) {
      const { flushLogger } = await import('../log/logger.js');
      await flushLogger(this.log);
    }
  }
}
