import { setTimeout as sleep } from 'node:timers/promises';
import { mapBounded } from '../../../functions/poller/bounded';

describe('mapBounded', () => {
  it('keeps the order of the items, whatever order they finish in', async () => {
    const delays = [30, 5, 20, 0, 10];
    const out = await mapBounded(delays, 3, async (ms) => {
      await sleep(ms);
      return ms * 2;
    });
    expect(out).toEqual([60, 10, 40, 0, 20]);
  });

  it('never runs more than the limit at once, and uses all of it', async () => {
    let running = 0;
    let most = 0;
    await mapBounded(
      Array.from({ length: 20 }, (_, i) => i),
      4,
      async () => {
        most = Math.max(most, ++running);
        await sleep(2);
        running -= 1;
      },
    );
    expect(most).toBe(4);
  });

  it('handles no items, and a limit below one as one', async () => {
    expect(await mapBounded([], 4, async () => 1)).toEqual([]);
    let running = 0;
    let most = 0;
    await mapBounded([1, 2, 3], 0, async () => {
      most = Math.max(most, ++running);
      await sleep(1);
      running -= 1;
    });
    expect(most).toBe(1);
  });
});
