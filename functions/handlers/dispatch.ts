import type { LastPoll, MailboxRecord } from '../registry/record';
import type { RegistryReader } from '../registry/ports';
import type { DispatchInput, PollJob } from './contract';
import type { JobQueue, NotEnqueued, QueuedJob } from '../jobs/ports';
import { jobLastPoll } from './jobs';
import { groupOf, planBatches } from './shards';

/**
 * One tick of the dispatcher, against ports: the schedule's configured jobs plus the registry's
 * mailboxes of its group, spread over shards, cut into batches and enqueued.
 *
 * Which registry mailboxes a schedule takes: those whose record names its group (`schedule`), and
 * on the default group's schedule also those that name none. A record with `enabled: false` is
 * left out; one that does not validate is reported (never guessed at) and left out. A registry
 * mailbox whose id is also configured in infra/config.ts is left out too: the deployed
 * configuration wins, and the conflict is reported.
 *
 * A record whose `schedule` names a group the stack does not have is taken by no schedule, so it
 * would silently never be polled. The default group's run (one per tick: only the first part of a
 * split group carries `defaultGroup`) counts such records when it knows the stack's groups, so
 * they are reported once per tick, not once per group.
 */

export interface DispatchSettings {
  readonly shards: number;
  readonly batchSize: number;
  /** The stack's schedule group names; unset: orphaned records are not counted. */
  readonly scheduleGroups?: ReadonlySet<string>;
}

export interface DispatchDeps {
  readonly queue: JobQueue;
  /** Absent when the stack has no registry (tests, older stacks). */
  readonly registry?: RegistryReader;
}

export interface DispatchOutcome {
  /** Mailboxes in this tick's jobs. */
  readonly mailboxes: number;
  /** Of which from the registry. */
  readonly fromRegistry: number;
  readonly batches: number;
  readonly notEnqueued: readonly NotEnqueued[];
  /** Registry items that were left out, and why (ids and problems only, never values). */
  readonly invalid: readonly { readonly id: string; readonly problems: readonly string[] }[];
  readonly conflicts: readonly string[];
  /**
   * Enabled records whose `schedule` is not a group of the stack (never polled), in scan order;
   * undefined when this run does not count them (not the default group's, or no group list).
   */
  readonly orphaned: readonly OrphanedRecord[] | undefined;
  readonly scheduledMinute: string;
}

/** A registry record no schedule takes: its id and the group it names. */
export interface OrphanedRecord {
  readonly id: string;
  readonly schedule: string;
}

export async function dispatch(
  input: DispatchInput,
  settings: DispatchSettings,
  deps: DispatchDeps,
  now: Date = new Date(),
): Promise<DispatchOutcome> {
  const scheduledMinute = toMinute(input.scheduledTime !== undefined ? new Date(input.scheduledTime) : now);
  const configured = new Map(input.jobs.map((job) => [job.accountId, scheduledJob(job)]));
  const fromRegistry: PollJob[] = [];
  const invalid: { id: string; problems: readonly string[] }[] = [];
  const conflicts: string[] = [];
  const groups = input.defaultGroup === true ? settings.scheduleGroups : undefined;
  const orphaned: OrphanedRecord[] | undefined = groups ? [] : undefined;

  if (deps.registry && (input.registryGroup !== undefined || configured.size > 0)) {
    for await (const entry of deps.registry.entries()) {
      const configuredJob = configured.get(entry.id);
      if (configuredJob) {
        // A configured mailbox's last poll lives in the registry too (a last-poll-only item).
        if (entry.lastPoll) configured.set(entry.id, { ...configuredJob, last: jobLastPoll(entry.lastPoll) });
        if (entry.record || entry.problems) conflicts.push(entry.id);
        continue;
      }
      if (input.registryGroup === undefined) continue;
      if (entry.problems) {
        invalid.push({ id: entry.id, problems: entry.problems });
        continue;
      }
      const record = entry.record;
      if (!record || record.enabled === false) continue;
      if (orphaned && record.schedule !== undefined && !groups!.has(record.schedule)) {
        orphaned.push({ id: record.id, schedule: record.schedule });
        continue;
      }
      const inGroup =
        record.schedule === undefined ? input.defaultGroup === true : record.schedule === input.registryGroup;
      if (inGroup) fromRegistry.push(jobOf(record, entry.lastPoll));
    }
  }

  const jobs = [...configured.values(), ...fromRegistry];
  const batches = planBatches(jobs, settings.shards, settings.batchSize);
  const queued: QueuedJob[] = batches.map((job) => ({
    job,
    groupId: groupOf(job.shard),
    // Stable for a retried invocation of the same tick: the same minute, shard and first mailbox.
    deduplicationId: `${groupOf(job.shard)}@${scheduledMinute}#${job.mailboxes[0]!.accountId}`,
  }));
  const notEnqueued = queued.length > 0 ? await deps.queue.enqueue(queued) : [];
  return {
    mailboxes: jobs.length,
    fromRegistry: fromRegistry.length,
    batches: batches.length,
    notEnqueued,
    invalid,
    conflicts,
    orphaned,
    scheduledMinute,
  };
}

/** A registry record as a poll job: connection settings and bounds, never a secret. */
export function jobOf(record: MailboxRecord, lastPoll?: LastPoll): PollJob {
  return {
    accountId: record.id,
    secretId: record.secretId,
    ...(record.secretKey !== undefined ? { secretKey: record.secretKey } : {}),
    ...(record.provider !== undefined ? { provider: record.provider } : {}),
    ...(record.host !== undefined ? { host: record.host } : {}),
    ...(record.port !== undefined ? { port: record.port } : {}),
    ...(record.tls !== undefined ? { tls: record.tls } : {}),
    username: record.username,
    ...(record.mode !== undefined ? { mode: record.mode } : {}),
    ...(record.deleteAfterDays !== undefined ? { deleteAfterDays: record.deleteAfterDays } : {}),
    ...(record.maxMessages !== undefined ? { maxMessages: record.maxMessages } : {}),
    ...(record.maxBytes !== undefined ? { maxBytes: record.maxBytes } : {}),
    ...(record.authMethod !== undefined ? { authMethod: record.authMethod } : {}),
    ...(record.certificateSha256 !== undefined ? { certificateSha256: record.certificateSha256 } : {}),
    ...(lastPoll ? { last: jobLastPoll(lastPoll) } : {}),
  };
}

/** A scheduled job starts a follow-up chain: `followUp` is the worker's to set. */
function scheduledJob(job: PollJob): PollJob {
  const { followUp: _followUp, ...rest } = job;
  return rest;
}

/** `2025-03-04T10:05Z`: the time floored to the minute. */
export function toMinute(time: Date): string {
  return `${time.toISOString().slice(0, 16)}Z`;
}
