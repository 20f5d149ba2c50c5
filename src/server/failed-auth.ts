/**
 * Slows down key guessing: after `max` failed attempts from one address
 * within `windowMs`, every request from it is refused with 429 until the
 * oldest failure leaves the window. Kept per process: with --workers N an
 * address gets at most N × max guesses a minute, against 2^256 keys.
 */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    const recent = this.recent(address);
    if (recent.length < this.max) return 0;
    return Math.max(
      1,
      Math.ceil((recent[recent.length - this.max]! + this.windowMs - this.now()) / 1000),
    );
  }

  fail(address: string): void {
    const recent = this.recent(address);
    recent.push(this.now());
    this.failures.set(address, recent);
    // Bound memory under a spray of addresses: forget the idle ones now and then.
    if (this.failures.size > 10_000) for (const a of this.failures.keys()) this.recent(a);
  }

  private recent(address: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const kept = (this.failures.get(address) ?? []).filter((t) => t > cutoff);
    if (kept.length === 0) this.failures.delete(address);
    else this.failures.set(address, kept);
    return kept;
  }
}
