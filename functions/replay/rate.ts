/**
 * A token bucket: at most `ratePerSecond` events per second on average, with bursts of at most
 * `burst` (so any window of T seconds lets through at most burst + rate × T events). Replay takes
 * one token per event before it emits it, so that a replay does not flood the bus and the
 * consumers behind it (EventBridge's own PutEvents quota is per Region and shared with the poll).
 */
export interface TokenBucketOptions {
  readonly ratePerSecond: number;
  /** @default min(10, ratePerSecond), at least 1: one PutEvents request's worth */
  readonly burst?: number;
  /** Milliseconds; for tests. @default performance.now */
  readonly now?: () => number;
  /** For tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokens: number;
  private last: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError('TokenBucket: ratePerSecond must be a positive number');
    }
    this.rate = options.ratePerSecond;
    this.burst = options.burst ?? Math.max(1, Math.min(10, Math.floor(this.rate)));
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Takes `count` tokens if they are there now (and `count` ≤ burst); else takes nothing. */
  tryTake(count = 1): boolean {
    this.refill();
    if (count > this.burst || this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Resolves once `count` tokens (each at most `burst` at a time) have been taken. */
  async take(count = 1, signal?: AbortSignal): Promise<void> {
    for (let left = count; left > 0;) {
      this.refill();
      const want = Math.min(left, this.burst);
      if (this.tokens >= want) {
        this.tokens -= want;
        left -= want;
        continue;
      }
      if (signal?.aborted) return;
      await this.sleep(Math.ceil(((want - this.tokens) / this.rate) * 1000));
    }
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}
