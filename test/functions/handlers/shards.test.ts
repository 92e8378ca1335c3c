import type { PollJob } from '../../../functions/handlers/contract';
import { fnv1a, groupOf, planBatches, shardOf } from '../../../functions/handlers/shards';

function jobs(count: number, prefix = 'box'): PollJob[] {
  return Array.from({ length: count }, (_, i) => ({
    accountId: `${prefix}-${i}`,
    secretId: `pop3/${prefix}-${i}`,
  }));
}

describe('fnv1a', () => {
  it('matches the published FNV-1a 32-bit vectors', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('hashes UTF-8 bytes, not UTF-16 code units, and stays a 32-bit unsigned integer', () => {
    // A reference FNV-1a over the UTF-8 bytes, in BigInt arithmetic.
    const reference = (bytes: readonly number[]): number => {
      let h = 0x811c9dc5n;
      for (const b of bytes) h = ((h ^ BigInt(b)) * 0x01000193n) % 2n ** 32n;
      return Number(h);
    };
    expect(fnv1a('é')).toBe(reference([0xc3, 0xa9]));
    expect(fnv1a('é')).not.toBe(reference([0xe9]));
    expect(fnv1a('box-0')).toBe(reference([...Buffer.from('box-0')]));
    for (const text of ['', 'a', 'box-0', 'x'.repeat(64), '✉ mail']) {
      const hash = fnv1a(text);
      expect(Number.isInteger(hash)).toBe(true);
      expect(hash).toBeGreaterThanOrEqual(0);
      expect(hash).toBeLessThan(2 ** 32);
    }
  });

  it('gives fixed shards for fixed ids (a deployment must never move a mailbox by itself)', () => {
    expect(shardOf('a', 32)).toBe(0xe40c292c % 32);
    expect(shardOf('foobar', 32)).toBe(0xbf9cf968 % 32);
    expect(groupOf(7)).toBe('shard-7');
  });
});

describe('planBatches', () => {
  it('groups by shard, in shard order, each batch ≤ batchSize and of one shard', () => {
    const input = jobs(500);
    const batches = planBatches(input, 8, 25);
    for (const batch of batches) {
      expect(batch.v).toBe(2);
      expect(batch.mailboxes.length).toBeGreaterThan(0);
      expect(batch.mailboxes.length).toBeLessThanOrEqual(25);
      for (const m of batch.mailboxes) expect(shardOf(m.accountId, 8)).toBe(batch.shard);
    }
    const shards = batches.map((b) => b.shard);
    expect(shards).toEqual([...shards].sort((a, b) => a - b));
    const ids = batches.flatMap((b) => b.mailboxes.map((m) => m.accountId));
    expect(ids).toHaveLength(500);
    expect(new Set(ids)).toEqual(new Set(input.map((j) => j.accountId)));
  });

  it('cuts a shard into even batches: 26 at batchSize 25 are 13 + 13, 51 are 17 + 17 + 17', () => {
    for (const [count, sizes] of [
      [25, [25]],
      [26, [13, 13]],
      [51, [17, 17, 17]],
      [1, [1]],
    ] as const) {
      const batches = planBatches(jobs(count), 1, 25);
      expect(batches.map((b) => b.mailboxes.length)).toEqual(sizes);
      expect(batches.every((b) => b.shard === 0)).toBe(true);
    }
    // Within a shard, sizes never differ by more than… the last batch may be shorter, never longer.
    const sizes = planBatches(jobs(53), 1, 25).map((b) => b.mailboxes.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(53);
    expect(sizes.length).toBe(3);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(25);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(2);
  });

  it('is deterministic: the same mailboxes in any order give the same batches', () => {
    const input = jobs(300);
    const shuffled = [...input].reverse();
    shuffled.push(...shuffled.splice(0, 100));
    expect(planBatches(shuffled, 32, 10)).toEqual(planBatches(input, 32, 10));
    expect(planBatches(input, 32, 10)).toEqual(planBatches(input, 32, 10));
  });

  it('sorts mailboxes by account id within a batch and does not change the input', () => {
    const input = [...jobs(5)].reverse();
    const copy = [...input];
    const [batch] = planBatches(input, 1, 25);
    expect(batch!.mailboxes.map((m) => m.accountId)).toEqual(['box-0', 'box-1', 'box-2', 'box-3', 'box-4']);
    expect(input).toEqual(copy);
  });

  it('plans nothing for no jobs', () => {
    expect(planBatches([], 32, 25)).toEqual([]);
  });
});
