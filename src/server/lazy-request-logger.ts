import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

/**
 * fastify gives each request its own child logger (bound to the request id)
 * before the route runs. A pino child serialises its bindings when made, which
 * is work on every request, while a request that goes well writes nothing
 * through it: our one request line goes through its own logger (app.ts). This
 * stands in for that child and makes it on first use, from the same parent,
 * bindings and options, so a line written through it is the line the child
 * would have written. Asking whether a level is enabled makes no child: a child
 * made without options has its parent's level.
 */
export class LazyRequestLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindingsOf: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  private get real(): Logger {
    return (this.made ??= this.parent.child(this.bindingsOf, this.opts));
  }

  get level(): string {
    return this.made ? this.made.level : (this.opts.level ?? this.parent.level);
  }

  set level(level: string) {
    this.real.level = level;
  }

  isLevelEnabled(level: Level | string): boolean {
    return this.made === undefined && this.opts.level === undefined
      ? this.parent.isLevelEnabled(level)
      : this.real.isLevelEnabled(level);
  }

  /** Called as the child's own method, so pino's hooks see the child as `this`. */
  private write(level: Level, a: unknown[]): void {
    const real = this.real;
    (real[level] as (...x: unknown[]) => void).apply(real, a);
  }

  fatal(...a: unknown[]): void {
    this.write('fatal', a);
  }
  error(...a: unknown[]): void {
    this.write('error', a);
  }
  warn(...a: unknown[]): void {
    this.write('warn', a);
  }
  info(...a: unknown[]): void {
    this.write('info', a);
  }
  debug(...a: unknown[]): void {
    this.write('debug', a);
  }
  trace(...a: unknown[]): void {
    this.write('trace', a);
  }
  silent(): void {}

  child(bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.real.child(bindings, opts);
  }

  bindings(): Bindings {
    return this.real.bindings();
  }

  flush(cb?: (err?: Error) => void): void {
    this.real.flush(cb);
  }
}

/** fastify's childLoggerFactory: a LazyRequestLogger in place of each request's child. */
export function lazyChildLoggerFactory(
  logger: Logger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): Logger {
  return new LazyRequestLogger(logger, bindings, opts) as unknown as Logger;
}
