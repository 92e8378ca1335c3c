import type { BatchJob, PollJob } from './contract';

/**
 * How mailboxes are spread over the job queue so that two sessions of one mailbox never run at
 * once, across invocations and ticks.
 *
 * Each mailbox belongs to one shard, `fnv1a(id) mod SHARDS`, for the life of the deployment. A
 * shard is one FIFO message group (`shard-<n>`), and SQS hands out one message of a group at a
 * time: the next is received only once the one before it is deleted or its visibility timeout
 * (6 × the worker timeout) has passed. Every job that names a mailbox — its scheduled batch, a
 * follow-up, a retry — goes to the mailbox's group, so its sessions run strictly one after
 * another. Changing SHARDS moves mailboxes between groups: do it only with the job queue drained
 * (docs/deploy.md). The POP3 server's own maildrop lock (RFC 1939 §8, `[IN-USE]`) stays the last
 * line of defence and is reported as a skip.
 */

/** FNV-1a, 32 bits: stable across Node versions and machines, unlike anything seeded. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function shardOf(accountId: string, shards: number): number {
  return fnv1a(accountId) % shards;
}

export function groupOf(shard: number): string {
  return `shard-${shard}`;
}

/** Jobs grouped by shard and cut into batches of at most `batchSize`, in a stable order. */
export function planBatches(jobs: readonly PollJob[], shards: number, batchSize: number): BatchJob[] {
  const byShard = new Map<number, PollJob[]>();
  for (const job of [...jobs].sort((a, b) =>
    a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0,
  )) {
    const shard = shardOf(job.accountId, shards);
    let list = byShard.get(shard);
    if (!list) byShard.set(shard, (list = []));
    list.push(job);
  }
  const batches: BatchJob[] = [];
  for (const shard of [...byShard.keys()].sort((a, b) => a - b)) {
    const list = byShard.get(shard)!;
    // Even batches: 26 mailboxes at batchSize 25 become 13 + 13, not 25 + 1.
    const count = Math.ceil(list.length / batchSize);
    const size = Math.ceil(list.length / count);
    for (let i = 0; i < list.length; i += size) {
      batches.push({ v: 2, shard, mailboxes: list.slice(i, i + size) });
    }
  }
  return batches;
}
