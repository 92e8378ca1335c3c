import { TokenBucket } from '../../../functions/replay/rate';

/** The token bucket on a fake clock: its burst, its rate, and what it refuses. */
function fakeClock() {
  const clock = { now: 0, slept: [] as number[] };
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.now += ms;
    },
  };
}

describe('TokenBucket', () => {
  it('lets a burst through at once, then one token per 1/rate seconds', async () => {
    const { clock, now, sleep } = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 4, burst: 2, now, sleep });
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      await bucket.take();
      times.push(clock.now);
    }
    expect(times).toEqual([0, 0, 250, 500, 750, 1000]);
  });

  it('takes more tokens than the burst in steps, never going over burst + rate × time', async () => {
    const { clock, now, sleep } = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3, now, sleep });
    await bucket.take(13);
    expect(clock.now).toBeGreaterThanOrEqual(1000);
  });

  it('tryTake takes only what is there now', () => {
    const { clock, now, sleep } = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 2, now, sleep });
    expect(bucket.tryTake(2)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
    clock.now += 500;
    expect(bucket.tryTake(1)).toBe(true);
    expect(bucket.tryTake(3)).toBe(false);
  });

  it('defaults the burst to one PutEvents request (10), or the rate when lower, at least 1', () => {
    const { now, sleep } = fakeClock();
    const full = (rate: number) => {
      const bucket = new TokenBucket({ ratePerSecond: rate, now, sleep });
      let n = 0;
      while (bucket.tryTake()) n += 1;
      return n;
    };
    expect([full(100), full(4), full(0.5)]).toEqual([10, 4, 1]);
  });

  it('stops waiting once the signal is aborted', async () => {
    const { clock, now, sleep } = fakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, now, sleep });
    await bucket.take();
    const stop = new AbortController();
    stop.abort();
    await bucket.take(5, stop.signal);
    expect(clock.slept).toEqual([]);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a rate of %p', (rate) => {
    expect(() => new TokenBucket({ ratePerSecond: rate })).toThrow(/ratePerSecond must be a positive number/);
  });
});
