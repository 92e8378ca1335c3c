import type { BatchJob, PollJob } from '../../../functions/handlers/contract';
import { dispatch, toMinute, type DispatchSettings } from '../../../functions/handlers/dispatch';
import type { JobQueue, NotEnqueued, QueuedJob } from '../../../functions/jobs/ports';
import { shardOf } from '../../../functions/handlers/shards';
import type { RegistryEntry, RegistryReader } from '../../../functions/registry/ports';
import type { MailboxRecord } from '../../../functions/registry/record';

class MemoryRegistry implements RegistryReader {
  constructor(readonly items: RegistryEntry[]) {}
  async *entries(): AsyncIterable<RegistryEntry> {
    yield* this.items;
  }
}

class MemoryQueue implements JobQueue {
  readonly sent: QueuedJob[][] = [];
  constructor(private readonly fail: (job: QueuedJob) => boolean = () => false) {}
  async enqueue(jobs: readonly QueuedJob[]): Promise<NotEnqueued[]> {
    this.sent.push([...jobs]);
    return jobs.filter(this.fail).map((job) => ({ job, code: 'InternalError', message: 'test' }));
  }
  async delayRedelivery(): Promise<void> {}
  get jobs(): QueuedJob[] {
    return this.sent.flat();
  }
}

const record = (id: string, extra: Partial<MailboxRecord> = {}): RegistryEntry => ({
  id,
  record: { id, host: 'pop.example.com', username: `${id}@example.com`, secretId: 'pop3/shared', ...extra },
});

const settings = { shards: 32, batchSize: 25 };
const TICK = {
  jobs: [],
  registryGroup: 'default',
  defaultGroup: true,
  scheduledTime: '2025-03-04T10:05:00Z',
};

function mailboxes(queue: MemoryQueue): PollJob[] {
  return queue.jobs.flatMap((q) => q.job.mailboxes);
}

describe('dispatch', () => {
  it('enqueues 10,000 registry mailboxes in one tick: every mailbox once, batches ≤ 25 of one shard', async () => {
    const registry = new MemoryRegistry(Array.from({ length: 10_000 }, (_, i) => record(`box-${i}`)));
    const queue = new MemoryQueue();

    const outcome = await dispatch(TICK, settings, { queue, registry });

    expect(outcome).toMatchObject({ mailboxes: 10_000, fromRegistry: 10_000, notEnqueued: [], invalid: [] });
    expect(queue.sent).toHaveLength(1);
    const jobs = queue.jobs;
    expect(jobs).toHaveLength(outcome.batches);
    // ~312 a shard: 13 batches of ≤ 25 each, so 32 shards × 13 = 416 give or take a shard's count.
    const perShard = new Map<number, number>();
    for (const m of mailboxes(queue)) {
      const shard = shardOf(m.accountId, 32);
      perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    }
    expect(perShard.size).toBe(32);
    const expectedBatches = [...perShard.values()].reduce((n, c) => n + Math.ceil(c / 25), 0);
    expect(outcome.batches).toBe(expectedBatches);
    for (const q of jobs) {
      expect(q.job.v).toBe(2);
      expect(q.job.mailboxes.length).toBeGreaterThan(0);
      expect(q.job.mailboxes.length).toBeLessThanOrEqual(25);
      expect(q.groupId).toBe(`shard-${q.job.shard}`);
      expect(q.deduplicationId).toBe(
        `shard-${q.job.shard}@2025-03-04T10:05Z#${q.job.mailboxes[0]!.accountId}`,
      );
      for (const m of q.job.mailboxes) expect(shardOf(m.accountId, 32)).toBe(q.job.shard);
    }
    const ids = mailboxes(queue).map((m) => m.accountId);
    expect(ids).toHaveLength(10_000);
    expect(new Set(ids).size).toBe(10_000);
    expect(new Set(jobs.map((q) => q.deduplicationId)).size).toBe(jobs.length);
  });

  it("keeps each mailbox's shard and batch across two ticks; only the minute in the de-duplication ids changes", async () => {
    const registry = new MemoryRegistry(Array.from({ length: 2_000 }, (_, i) => record(`box-${i}`)));
    const first = new MemoryQueue();
    const second = new MemoryQueue();
    await dispatch(TICK, settings, { queue: first, registry });
    await dispatch({ ...TICK, scheduledTime: '2025-03-04T10:10:00Z' }, settings, { queue: second, registry });

    const shardsOf = (q: MemoryQueue) =>
      new Map(q.jobs.flatMap((j) => j.job.mailboxes.map((m) => [m.accountId, j.job.shard] as const)));
    expect(shardsOf(second)).toEqual(shardsOf(first));
    expect(second.jobs.map((j) => j.job)).toEqual(first.jobs.map((j) => j.job));
    expect(second.jobs.map((j) => j.deduplicationId)).toEqual(
      first.jobs.map((j) => j.deduplicationId.replace('10:05Z', '10:10Z')),
    );
  });

  it('takes registry mailboxes of its group only; unscheduled ones only on the default group', async () => {
    const registry = new MemoryRegistry([
      record('a'),
      record('b', { schedule: 'night' }),
      record('c', { schedule: 'default' }),
      record('d', { enabled: false }),
      record('e', { schedule: 'night', enabled: false }),
      { id: 'f', problems: ['port must be an integer from 1 to 65535'] },
      { id: 'g', lastPoll: { at: '2025-03-04T10:00:00Z', status: 'ok' } },
    ]);
    const ids = async (input: object) => {
      const queue = new MemoryQueue();
      const outcome = await dispatch({ jobs: [], scheduledTime: TICK.scheduledTime, ...input }, settings, {
        queue,
        registry,
      });
      return {
        ids: mailboxes(queue)
          .map((m) => m.accountId)
          .sort(),
        outcome,
      };
    };

    const byDefault = await ids({ registryGroup: 'default', defaultGroup: true });
    expect(byDefault.ids).toEqual(['a', 'c']);
    expect(byDefault.outcome.invalid).toEqual([
      { id: 'f', problems: ['port must be an integer from 1 to 65535'] },
    ]);
    expect((await ids({ registryGroup: 'night' })).ids).toEqual(['b']);
    expect((await ids({ registryGroup: 'default' })).ids).toEqual(['c']);
    // No registry group: the schedule's configured jobs only.
    const none = await ids({});
    expect(none.ids).toEqual([]);
    expect(none.outcome.invalid).toEqual([]);
  });

  it("counts, on the default group's run only, enabled records naming a group the stack does not have", async () => {
    const registry = new MemoryRegistry([
      record('a'),
      record('b', { schedule: 'night' }),
      record('c', { schedule: 'nightly' }),
      record('d', { schedule: 'Night' }),
      record('e', { schedule: 'weekly', enabled: false }),
      { id: 'f', problems: ['port must be an integer from 1 to 65535'] },
    ]);
    const groups = { ...settings, scheduleGroups: new Set(['default', 'night']) };
    const run = async (input: object, withGroups: DispatchSettings = groups) => {
      const queue = new MemoryQueue();
      const outcome = await dispatch({ jobs: [], scheduledTime: TICK.scheduledTime, ...input }, withGroups, {
        queue,
        registry,
      });
      return { outcome, ids: mailboxes(queue).map((m) => m.accountId) };
    };

    const byDefault = await run({ registryGroup: 'default', defaultGroup: true });
    expect(byDefault.outcome.orphaned).toEqual([
      { id: 'c', schedule: 'nightly' },
      { id: 'd', schedule: 'Night' },
    ]);
    expect(byDefault.ids).toEqual(['a']);
    // Another group's run does not count them (so a tick reports them once), nor takes them.
    const night = await run({ registryGroup: 'night' });
    expect(night.outcome.orphaned).toBeUndefined();
    expect(night.ids).toEqual(['b']);
    // Without the stack's group list (an older stack), nothing is counted.
    expect(
      (await run({ registryGroup: 'default', defaultGroup: true }, settings)).outcome.orphaned,
    ).toBeUndefined();
    // None orphaned: an empty list, so the metric reports 0.
    const clean = await dispatch(TICK, groups, {
      queue: new MemoryQueue(),
      registry: new MemoryRegistry([record('a')]),
    });
    expect(clean.orphaned).toEqual([]);
  });

  it('carries a registry record into the job (settings and last poll), never a secret', async () => {
    const registry = new MemoryRegistry([
      {
        ...record('a', {
          port: 995,
          tls: 'implicit',
          mode: 'keep',
          deleteAfterDays: 7,
          secretKey: 'k-a',
          maxMessages: 50,
        }),
        lastPoll: {
          at: '2025-03-04T10:00:00Z',
          status: 'failed',
          code: 'EAUTH',
          message: 'no',
          archived: 0,
          lastArchivedAt: '2025-03-01T08:00:00Z',
        },
      },
    ]);
    const queue = new MemoryQueue();
    await dispatch(TICK, settings, { queue, registry });
    expect(mailboxes(queue)).toEqual([
      {
        accountId: 'a',
        secretId: 'pop3/shared',
        secretKey: 'k-a',
        host: 'pop.example.com',
        port: 995,
        tls: 'implicit',
        username: 'a@example.com',
        mode: 'keep',
        deleteAfterDays: 7,
        maxMessages: 50,
        // lastArchivedAt rides along, so the worker's next record keeps it (poll-batch.ts).
        last: {
          status: 'failed',
          at: '2025-03-04T10:00:00Z',
          code: 'EAUTH',
          lastArchivedAt: '2025-03-01T08:00:00Z',
        },
      },
    ]);
  });

  it('lets configuration win over a registry record with the same id, reporting the conflict', async () => {
    const registry = new MemoryRegistry([
      {
        ...record('a', { host: 'other.example.com' }),
        lastPoll: { at: '2025-03-04T10:00:00Z', status: 'ok' },
      },
      { id: 'b', lastPoll: { at: '2025-03-04T09:00:00Z', status: 'skipped', code: 'IN-USE' } },
    ]);
    const queue = new MemoryQueue();
    const outcome = await dispatch(
      {
        ...TICK,
        jobs: [
          { accountId: 'a', secretId: 'pop3/a' },
          { accountId: 'b', secretId: 'pop3/b', followUp: 0 },
        ],
      },
      settings,
      { queue, registry },
    );
    expect(outcome).toMatchObject({ mailboxes: 2, fromRegistry: 0, conflicts: ['a'] });
    const byId = new Map(mailboxes(queue).map((m) => [m.accountId, m]));
    expect(byId.get('a')).toEqual({
      accountId: 'a',
      secretId: 'pop3/a',
      last: { status: 'ok', at: '2025-03-04T10:00:00Z' },
    });
    expect(byId.get('b')).toEqual({
      accountId: 'b',
      secretId: 'pop3/b',
      last: { status: 'skipped', at: '2025-03-04T09:00:00Z', code: 'IN-USE' },
    });
  });

  it('reports the jobs the queue could not take', async () => {
    const registry = new MemoryRegistry(Array.from({ length: 100 }, (_, i) => record(`box-${i}`)));
    const queue = new MemoryQueue((job) => job.job.shard === 3);
    const outcome = await dispatch(TICK, settings, { queue, registry });
    expect(outcome.notEnqueued.length).toBeGreaterThan(0);
    expect(outcome.notEnqueued.every((f) => f.job.job.shard === 3)).toBe(true);
  });

  it('enqueues nothing, and calls no queue, for an empty tick', async () => {
    const queue = new MemoryQueue();
    const outcome = await dispatch(TICK, settings, { queue, registry: new MemoryRegistry([]) });
    expect(outcome).toMatchObject({ mailboxes: 0, batches: 0, notEnqueued: [] });
    expect(queue.sent).toEqual([]);
    const none = await dispatch({ jobs: [] }, settings, { queue });
    expect(none.batches).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it('floors the time to the minute, using now without a scheduledTime', async () => {
    expect(toMinute(new Date('2025-03-04T10:09:59.999Z'))).toBe('2025-03-04T10:09Z');
    const queue = new MemoryQueue();
    const outcome = await dispatch(
      { jobs: [{ accountId: 'a', secretId: 's' }] },
      settings,
      { queue },
      new Date('2025-03-04T10:09:59.999Z'),
    );
    expect(outcome.scheduledMinute).toBe('2025-03-04T10:09Z');
    expect(queue.jobs[0]!.deduplicationId).toBe(`shard-${shardOf('a', 32)}@2025-03-04T10:09Z#a`);
    const body: BatchJob = queue.jobs[0]!.job;
    expect(body).toEqual({ v: 2, shard: shardOf('a', 32), mailboxes: [{ accountId: 'a', secretId: 's' }] });
  });
});
