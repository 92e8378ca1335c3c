/**
 * The AWS calls one worker invocation makes, in `aws.counts()` form (`{ 'S3.PutObject': 3, … }`),
 * for the two batches a fleet is made of. One place for them: the in-process handler tests
 * (test/functions/handlers/worker.test.ts) and the test of the synthesized bundles
 * (test/infra/bundles.test.ts) assert the same figures, and bench/cost.ts prices what they describe.
 *
 * Both assume delete mode, small messages (one PutObject each, below the multipart threshold),
 * and jobs whose `last` poll is recent and says `ok`, as the dispatcher attaches it from the
 * registry.
 */

/**
 * A batch whose mailboxes are all empty and healthy: only the secrets are read — one
 * GetSecretValue per distinct secret (a shared secret once for all its mailboxes), none while
 * they are in the warm cache (SECRET_CACHE_SECONDS). No S3 (delete mode keeps no state), no
 * event (nothing changed), no last-poll write (the stored one is recent and still true), no SQS.
 */
export function emptyBatchCalls(secretsRead: number): Record<string, number> {
  return secretsRead > 0 ? { 'SecretsManager.GetSecretValue': secretsRead } : {};
}

export interface MailBatch {
  /** Distinct secrets not in the warm cache. */
  readonly secretsRead: number;
  /** Messages archived in each mailbox that had mail; the batch's other mailboxes are empty and healthy. */
  readonly messagesPerMailbox: readonly number[];
}

/**
 * A batch in which some mailboxes had mail:
 * - `S3.PutObject`: one per message (conditional, with its SHA-256; no read-back when it is new);
 * - `EventBridge.PutEvents`: the "Message Archived" events (`messageEventCalls`, see below), plus
 *   one per mailbox with mail for its "Poll Completed" summary (SUMMARY_EVENTS=changes: mail was
 *   archived), which goes out on its own once the mailbox's session is over;
 * - `DynamoDB.UpdateItem`: one per mailbox with mail (its `lastPoll`, with `lastArchivedAt`).
 * No SQS call (nothing left for a follow-up), no other S3 call.
 */
export function mailBatchCalls(batch: MailBatch, messageEventCalls: number): Record<string, number> {
  const mailboxes = batch.messagesPerMailbox.length;
  return {
    ...emptyBatchCalls(batch.secretsRead),
    'S3.PutObject': batch.messagesPerMailbox.reduce((n, m) => n + m, 0),
    'EventBridge.PutEvents': messageEventCalls + mailboxes,
    'DynamoDB.UpdateItem': mailboxes,
  };
}

/**
 * The PutEvents calls of the "Message Archived" events, `[fewest, most]`. Each mailbox's session
 * has its own batcher (functions/poller/event-batcher.ts), which lingers for nothing: events of
 * messages archived in the same turn of the event loop share a call (up to 10), any other goes
 * alone. Which it is, timing decides: in-process (worker.test.ts) 5 messages in 2 mailboxes took
 * 5 calls (7 with the summaries) in every run; the bundles (bundles.test.ts) have sent a
 * mailbox's 2 messages in one call. The fewest is one call per 10 messages of each mailbox.
 */
export function messageEventCallsRange(batch: MailBatch): [number, number] {
  return [
    batch.messagesPerMailbox.reduce((n, m) => n + Math.ceil(m / 10), 0),
    batch.messagesPerMailbox.reduce((n, m) => n + m, 0),
  ];
}

/** The message-event calls in `counts`, a mail batch's `aws.counts()`. */
export function messageEventCalls(counts: Readonly<Record<string, number>>, batch: MailBatch): number {
  return (counts['EventBridge.PutEvents'] ?? 0) - batch.messagesPerMailbox.length;
}
