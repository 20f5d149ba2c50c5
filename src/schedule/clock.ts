/** The daemon's view of time: what time it is, and a way to wait for a while. */
export interface DaemonClock {
  now(): number;
  /** Resolves after ms (or at once when the signal aborts); never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: DaemonClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
    }),
};

interface Sleeper {
  readonly until: number;
  readonly resolve: () => void;
}

/**
 * A clock that moves only when told to, for tests and backfills: sleepers
 * wake when `advance` or `set` passes their time. Several daemons can share
 * one, like several hosts sharing one wall clock.
 */
export class ManualClock implements DaemonClock {
  private sleepers: Sleeper[] = [];

  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const sleeper: Sleeper = {
        until: this.t + Math.max(0, ms),
        resolve: () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          signal.removeEventListener('abort', sleeper.resolve);
          resolve();
        },
      };
      this.sleepers.push(sleeper);
      signal.addEventListener('abort', sleeper.resolve, { once: true });
    });
  }

  /** How many callers are waiting on this clock right now. */
  get waiting(): number {
    return this.sleepers.length;
  }

  /** Moves to `t` and wakes every sleeper whose time has come. */
  set(t: number): void {
    this.t = Math.max(this.t, t);
    for (const s of [...this.sleepers]) if (s.until <= this.t) s.resolve();
  }

  advance(ms: number): void {
    this.set(this.t + ms);
  }

  /** Resolves once `count` callers are asleep again (after the work a wake-up started). */
  async settled(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sleepers.filter((s) => s.until > this.t).length < count) {
      if (Date.now() > deadline)
        throw new Error(
          `ManualClock: ${count} sleeper(s) expected, ${this.sleepers.length} waiting`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
