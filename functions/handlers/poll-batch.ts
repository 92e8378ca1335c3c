import type { AccountConfig } from '../poller/account';
import { mapBounded } from '../poller/bounded';
import type { AccountResult, PollDependencies } from '../poller/poll-account';
import { pollAccounts, publishSummary } from '../poller/poll-accounts';
import type { CredentialSource } from '../poller/ports';
import type { LastPollWriter } from '../registry/ports';
import type { LastPoll } from '../registry/record';
import type { SummaryEvents } from './config';
import type { BatchJob, PollJob } from './contract';
import type { JobQueue } from '../jobs/ports';
import { jobLastPoll } from './jobs';
import { groupOf } from './shards';

/**
 * One batch job, against ports: its mailboxes polled a bounded number at a time, each failure
 * kept to its own mailbox, then what the fleet needs to stay cheap and answerable:
 *
 * - **Credentials**: a login refused with EAUTH after a secret served from the warm cache is polled
 *   once more with a fresh read, before the failure is reported (a rotated password is picked up
 *   at once, not after the cache's TTL).
 * - **Summary events** only when they say something (`changes`): mail was archived, the poll
 *   failed, or the outcome differs from the mailbox's last one. An empty, healthy poll emits none.
 * - **Last-poll records** in the registry, written only when the outcome changed, mail was
 *   archived, or the stored one is a day old: when a mailbox was last polled, and why it failed,
 *   stay answerable without an event or log line per poll.
 * - **Follow-ups**: mailboxes stopped by a bound or the deadline with more mail waiting go, together,
 *   into one follow-up job in the same shard's message group, so they run next, never beside this.
 *
 * A mailbox that failed is polled again at the next tick (its messages are safe on the server); the
 * job itself is retried by SQS only when something unexpected throws.
 */

/** Stops that leave mail for a follow-up job. */
const FOLLOW_UP_REASONS: ReadonlySet<string> = new Set([
  'deadline',
  'maxMessages',
  'maxBytes',
  'maxSessions',
]);
/** A healthy mailbox's record is refreshed this often, so `lastPoll.at` stays meaningful. */
export const LAST_POLL_REFRESH_MS = 24 * 60 * 60 * 1000;

export interface BatchSecrets {
  /** A credential source for this batch (a fresh instance: each secret read at most once in it). */
  source(): CredentialSource;
  /** Drops the account's secret from the warm cache if it was read before `time`; true if it did. */
  forgetIfCachedBefore(accountId: string, time: number): boolean;
}

export interface BatchDeps extends Omit<PollDependencies, 'credentials'> {
  readonly secrets: BatchSecrets;
  readonly queue: JobQueue;
  readonly lastPolls?: LastPollWriter;
  /** Keep mode: written once at the end of the batch. */
  readonly flushSeen?: () => Promise<void>;
}

export interface BatchSettings {
  readonly mailboxConcurrency: number;
  readonly summaryEvents: SummaryEvents;
  readonly maxFollowUps: number;
  /** Trusted CAs for every mailbox (public roots plus EXTRA_CA_PEM), when set. */
  readonly caPem?: string;
  /** Message bytes held in memory across the whole batch; each mailbox gets its share. */
  readonly memoryBudgetBytes: number;
}

export interface BatchRun {
  readonly runId: string;
  /** Stop starting new messages (every mailbox's session) at this time. */
  readonly deadline: Date;
  /**
   * The hard stop (functions/poller/hard-stop.ts): a session still running this long after the
   * deadline is dropped without QUIT, with EDEADLINE. Default HARD_STOP_GRACE_MS.
   */
  readonly hardStopGraceMs?: number;
  /** Cuts every session, half-way through the deadline margin. */
  readonly signal: AbortSignal;
  /** The message id of the job, for the follow-up's de-duplication id. */
  readonly messageId: string;
}

export interface MailboxOutcome {
  readonly job: PollJob;
  readonly result: AccountResult;
  /** Polled a second time after EAUTH with a fresh secret. */
  readonly refreshedSecret: boolean;
  readonly summaryPublished: boolean;
  readonly lastPollWritten: boolean;
  readonly followUp: boolean;
}

export interface BatchOutcome {
  readonly mailboxes: readonly MailboxOutcome[];
  readonly seenFailure?: unknown;
  readonly lastPollFailures: number;
  /** Set when a follow-up was due but could not be sent (the next tick continues). */
  readonly followUpFailure?: string;
  readonly followUpSkipped?: 'limit' | 'loginDelay';
  readonly durationMs: number;
}

export async function pollBatch(
  batch: BatchJob,
  run: BatchRun,
  settings: BatchSettings,
  deps: BatchDeps,
): Promise<BatchOutcome> {
  const started = Date.now();
  const clock = deps.clock ?? { now: () => new Date() };
  const perMailboxBytes = Math.max(
    4 * 1024 * 1024,
    Math.floor(settings.memoryBudgetBytes / Math.min(settings.mailboxConcurrency, batch.mailboxes.length)),
  );
  const pollOptions = {
    runId: run.runId,
    deadline: run.deadline,
    ...(run.hardStopGraceMs !== undefined ? { hardStopGraceMs: run.hardStopGraceMs } : {}),
    signal: run.signal,
    accountConcurrency: settings.mailboxConcurrency,
    summaryEvents: false,
    memoryBudgetBytes: perMailboxBytes,
    spoolMemoryLimitBytes: Math.min(8 * 1024 * 1024, perMailboxBytes),
    retrieveAheadBytes: Math.min(2 * 1024 * 1024, Math.floor(perMailboxBytes / 2)),
  };
  const poll = (jobs: readonly PollJob[]) =>
    pollAccounts(
      jobs.map((job) => accountFor(job, settings.caPem)),
      { ...deps, credentials: deps.secrets.source() },
      pollOptions,
    );

  const jobs = batch.mailboxes;
  const results = await poll(jobs);
  // EAUTH after a cached secret: the secret may have been changed since; read it again, once.
  const stale = jobs.filter(
    (job, i) =>
      results[i]!.error?.code === 'EAUTH' && deps.secrets.forgetIfCachedBefore(job.accountId, started),
  );
  const refreshed = new Set<string>();
  if (stale.length > 0 && clock.now() < run.deadline) {
    const again = await poll(stale);
    stale.forEach((job, i) => {
      results[jobs.indexOf(job)] = again[i]!;
      refreshed.add(job.accountId);
    });
  }

  let seenFailure: unknown;
  if (deps.flushSeen) {
    // Keep mode: remember what was archived, whatever happened to the run.
    await deps.flushSeen().catch((error: unknown) => (seenFailure = error));
  }

  const now = clock.now();
  const summaries = await mapBounded(jobs, 8, async (job) => {
    const result = results[jobs.indexOf(job)]!;
    if (!wantsSummary(settings.summaryEvents, job, result)) return false;
    await publishSummary(result, { ...deps, credentials: deps.secrets.source() }, { runId: run.runId });
    return true;
  });

  let lastPollFailures = 0;
  /** The records written, by account: what the registry now holds in place of the job's `last`. */
  const recorded = new Map<string, NonNullable<PollJob['last']>>();
  const written = await mapBounded(jobs, 8, async (job) => {
    const record = deps.lastPolls ? lastPollFor(job, results[jobs.indexOf(job)]!, now) : undefined;
    if (!record) return false;
    try {
      await deps.lastPolls!.writeLastPoll(job.accountId, record);
      recorded.set(job.accountId, jobLastPoll(record));
      return true;
    } catch {
      lastPollFailures++;
      return false;
    }
  });

  const due = jobs.filter((_job, i) => needsFollowUp(results[i]!));
  const followUps = due.filter((job) => (job.followUp ?? 0) < settings.maxFollowUps);
  let followUpFailure: string | undefined;
  let followUpSkipped: BatchOutcome['followUpSkipped'];
  if (due.length > followUps.length) followUpSkipped = 'limit';
  if (followUps.length > 0) {
    const [failed] = await deps.queue.enqueue([
      {
        job: {
          v: 2,
          shard: batch.shard,
          // The follow-up compares against this poll's record, not the one from dispatch time: with
          // the old `last` it would see a change that is already recorded (a second summary), and a
          // record it writes would carry the old `lastArchivedAt`, undoing the one just written.
          mailboxes: followUps.map((job) => {
            const last = recorded.get(job.accountId);
            return { ...job, followUp: (job.followUp ?? 0) + 1, ...(last ? { last } : {}) };
          }),
        },
        // Same group: it runs after this job, never beside it.
        groupId: groupOf(batch.shard),
        // One follow-up per job message, even if this message is processed twice.
        deduplicationId: `${groupOf(batch.shard)}@f:${run.messageId}`,
      },
    ]);
    if (failed) followUpFailure = `${failed.code}: ${failed.message}`;
  }
  if (results.some((r) => r.stoppedBy === 'loginDelay' || waitsForLoginDelay(r))) {
    followUpSkipped ??= 'loginDelay';
  }
  const following = new Set(followUpFailure === undefined ? followUps.map((j) => j.accountId) : []);

  return {
    mailboxes: jobs.map((job, i) => ({
      job,
      result: results[i]!,
      refreshedSecret: refreshed.has(job.accountId),
      summaryPublished: summaries[i]!,
      lastPollWritten: written[i]!,
      followUp: following.has(job.accountId),
    })),
    ...(seenFailure !== undefined ? { seenFailure } : {}),
    lastPollFailures,
    ...(followUpFailure !== undefined ? { followUpFailure } : {}),
    ...(followUpSkipped !== undefined ? { followUpSkipped } : {}),
    durationMs: Date.now() - started,
  };
}

/**
 * More mail waits and this invocation's bounds or deadline, not the server, stopped it. Never at a
 * LOGIN-DELAY: a FIFO queue has no per-message delay (SQS refuses DelaySeconds on FIFO messages),
 * and a follow-up now would only be refused by the server; the next tick continues.
 */
function needsFollowUp(result: AccountResult): boolean {
  const more = result.remaining > 0 || result.moreMayRemain === true;
  return (
    more &&
    // A session the hard stop cut (an endless or crawling reply) would most likely hold a follow-up
    // just as long, an invocation each time: the next tick tries again.
    result.error?.code !== 'EDEADLINE' &&
    result.stoppedBy !== undefined &&
    FOLLOW_UP_REASONS.has(result.stoppedBy) &&
    !result.loginDelaySeconds
  );
}

/** More mail waits, but the server's LOGIN-DELAY forbids another login before the next tick. */
function waitsForLoginDelay(result: AccountResult): boolean {
  const more = result.remaining > 0 || result.moreMayRemain === true;
  return (
    more &&
    result.stoppedBy !== undefined &&
    FOLLOW_UP_REASONS.has(result.stoppedBy) &&
    !!result.loginDelaySeconds
  );
}

export function wantsSummary(mode: SummaryEvents, job: PollJob, result: AccountResult): boolean {
  if (mode === 'none') return false;
  if (mode === 'all') return true;
  return result.archived > 0 || result.status === 'failed' || changed(job, result);
}

function changed(job: PollJob, result: AccountResult): boolean {
  return job.last === undefined || job.last.status !== result.status || job.last.code !== result.error?.code;
}

/** The record to write for this poll, or undefined when the stored one still tells the truth. */
export function lastPollFor(job: PollJob, result: AccountResult, now: Date): LastPoll | undefined {
  const last = job.last;
  const stale =
    last === undefined ||
    now.getTime() - Date.parse(last.at) >= LAST_POLL_REFRESH_MS ||
    Number.isNaN(Date.parse(last.at));
  if (!stale && !changed(job, result) && result.archived === 0) return undefined;
  const lastArchivedAt = result.archived > 0 ? now.toISOString() : last?.lastArchivedAt;
  return {
    at: now.toISOString(),
    status: result.status,
    ...(result.error ? { code: result.error.code, message: result.error.message.slice(0, 500) } : {}),
    ...(result.archived > 0 ? { archived: result.archived } : {}),
    ...(lastArchivedAt !== undefined ? { lastArchivedAt } : {}),
  };
}

/** The workflow's view of a job: registry settings as given; the secret's own still take precedence. */
export function accountFor(job: PollJob, caPem: string | undefined): AccountConfig {
  return {
    id: job.accountId,
    ...(job.provider !== undefined ? { provider: job.provider } : {}),
    ...(job.host !== undefined ? { host: job.host } : {}),
    ...(job.port !== undefined ? { port: job.port } : {}),
    ...(job.tls !== undefined ? { tls: job.tls } : {}),
    ...(job.username !== undefined ? { username: job.username } : {}),
    ...(job.authMethod !== undefined ? { authMethod: job.authMethod } : {}),
    ...(job.certificateSha256 !== undefined ? { certificateSha256: job.certificateSha256 } : {}),
    // Unset stays unset: the workflow defaults to delete, except for Gmail `recent:` logins.
    ...(job.mode !== undefined ? { mode: job.mode } : {}),
    ...(job.deleteAfterDays !== undefined ? { deleteAfterDays: job.deleteAfterDays } : {}),
    ...(job.maxMessages !== undefined ? { maxMessages: job.maxMessages } : {}),
    ...(job.maxBytes !== undefined ? { maxBytes: job.maxBytes } : {}),
    ...(caPem !== undefined ? { caPem } : {}),
  };
}
