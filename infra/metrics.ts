/**
 * What the handlers emit with Powertools Metrics (EMF in the logs, no API calls): the namespace,
 * the `service` dimension (POWERTOOLS_SERVICE_NAME, set by the construct; the only dimension, so
 * 10,000 mailboxes are not 10,000 custom metrics) and the metric names. The worker writes one EMF
 * record per batch; Lambda's own Duration and Errors metrics (free) cover timing and crashes.
 *
 * Each name is one custom metric ($0.30 a month): eight in all, and three more with SES inbound
 * (under their own `service`, the SES inbound handler's, one EMF record per batch of notifications).
 */
export const METRICS = {
  namespace: 'Pop3Poller',
  workerService: 'pop3-poller-worker',
  dispatcherService: 'pop3-poller-dispatcher',
  /** Mailbox polls in the batch (a count). */
  polls: 'Polls',
  /** Polls of the batch that failed (a sum; so `Polls − PollErrors` succeeded). */
  pollErrors: 'PollErrors',
  /** Mailboxes failing in a way a retry will not fix (bad password, TLS, server refuses). */
  needsAttention: 'NeedsAttention',
  messagesArchived: 'MessagesArchived',
  bytesArchived: 'BytesArchived',
  /** Messages left on the servers by the batch (bounds, deadline or failures). */
  backlog: 'Backlog',
  /**
   * Mailboxes (poll jobs) the dispatcher put on the job queue, emitted by every run, 0 included:
   * what tells a stack with no mailboxes from one whose polls fail (the NoSuccessfulPoll alarm).
   */
  jobsEnqueued: 'JobsEnqueued',
  /**
   * Enabled registry records whose `schedule` names no group of the stack, so no schedule takes
   * them; counted by the default group's run only (one value per tick).
   */
  orphanedMailboxes: 'OrphanedMailboxes',
  sesInboundService: 'pop3-poller-ses-inbound',
  /** Messages SES received that were archived (one per account a message went to). */
  sesMessagesArchived: 'SesMessagesArchived',
  /** SES objects that can never be archived (not a message, no account, gone): reported, kept. */
  sesObjectsRejected: 'SesObjectsRejected',
  /** SES objects whose notification failed and comes back (a transient failure, or one that ends in the DLQ). */
  sesObjectsRetried: 'SesObjectsRetried',
} as const;
