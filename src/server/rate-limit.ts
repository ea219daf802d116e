/**
 * A per-client-address token bucket for the public endpoints: `perMinute`
 * requests a minute, with bursts up to the same number. In process memory:
 * with several API processes behind nginx each keeps its own buckets, so
 * nginx's limit_req zone is the shared limit and this one the backstop.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perMs: number;
  #calls = 0;

  constructor(
    readonly perMinute: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.#perMs = perMinute / 60_000;
  }

  /** Takes one token for `key`; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const now = this.clock();
    if (++this.#calls % 10_000 === 0) this.#sweep(now);
    const b = this.#buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.#perMs);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000));
  }

  // Forgets clients whose buckets have refilled: they are as good as new.
  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.perMinute) this.#buckets.delete(k);
    }
  }
}
