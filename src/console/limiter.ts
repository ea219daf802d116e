/**
 * Slows repeated failed sign-ins per client address: after a few failures,
 * each further attempt must wait twice as long as the last (up to a cap), and
 * an attempt that comes early is refused without looking at its token. Kept in
 * memory, so the limit is per server process (see docs/CONSOLE.md).
 */

interface Entry {
  failures: number;
  /** When the next attempt is allowed (ms since the epoch). */
  nextAt: number;
  /** When the last failure was (ms), for forgetting. */
  lastAt: number;
}

export interface SignInLimits {
  /** Failures allowed without a wait. */
  readonly free: number;
  /** The first wait after those, doubling with each further failure. */
  readonly baseMs: number;
  readonly maxMs: number;
  /** An address with no failure for this long starts afresh. */
  readonly forgetMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  free: 3,
  baseMs: 1_000,
  maxMs: 5 * 60_000,
  forgetMs: 60 * 60_000,
};

const MAX_ENTRIES = 10_000;

export class SignInLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #limits: SignInLimits;

  constructor(limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {
    this.#limits = limits;
  }

  /** Milliseconds `address` must still wait before its next attempt (0: go ahead). */
  wait(address: string, now: number): number {
    const e = this.#entries.get(address);
    if (!e) return 0;
    if (now - e.lastAt > this.#limits.forgetMs) {
      this.#entries.delete(address);
      return 0;
    }
    return Math.max(0, e.nextAt - now);
  }

  /** Records a failed attempt. */
  fail(address: string, now: number): void {
    if (this.#entries.size >= MAX_ENTRIES) this.#prune(now);
    const e = this.#entries.get(address) ?? { failures: 0, nextAt: 0, lastAt: now };
    e.failures += 1;
    e.lastAt = now;
    const over = e.failures - this.#limits.free;
    e.nextAt =
      over > 0 ? now + Math.min(this.#limits.maxMs, this.#limits.baseMs * 2 ** (over - 1)) : now;
    this.#entries.set(address, e);
  }

  /** Forgets an address's failures (after a successful sign-in). */
  succeed(address: string): void {
    this.#entries.delete(address);
  }

  #prune(now: number): void {
    for (const [k, e] of this.#entries) {
      if (now - e.lastAt > this.#limits.forgetMs || e.nextAt <= now) this.#entries.delete(k);
    }
    // Still full (an attack from many addresses): drop the oldest half.
    if (this.#entries.size >= MAX_ENTRIES) {
      let n = MAX_ENTRIES / 2;
      for (const k of this.#entries.keys()) {
        if (n-- <= 0) break;
        this.#entries.delete(k);
      }
    }
  }
}
