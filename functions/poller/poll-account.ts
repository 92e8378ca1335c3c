import type { Pop3Client, Pop3ClientOptions, Pop3Timeouts } from '../pop3';
import type { AccountConfig } from './account';
import { AccountRun } from './account-run';
import type { FailureReport } from './errors';
import type { MetadataLimits } from './metadata';
import type { ArchiveStore, Clock, CredentialSource, EventSink, SeenUidlStore } from './ports';
import { pop3Mailbox } from './session';

export { MAX_SESSIONS_PER_RUN } from './account-run';
export { HARD_STOP_GRACE_MS } from './hard-stop';

/**
 * The poll workflow for one account. For each message, in this order and never otherwise:
 *
 *   RETR → spool (SHA-256 while receiving) → archive (verified against that hash) → publish the
 *   "Message Archived" event → DELE
 *
 * and QUIT at the end, which is when the server really removes what was DELE'd (RFC 1939 §6). A
 * message whose archiving or event failed is never DELE'd; and at a server that removes whatever
 * was retrieved (EXPIRE 0, RFC 2449 §6.7) a session that retrieved such a message ends without
 * QUIT, committing nothing. If the connection drops, nothing is removed; the next run fetches
 * those messages again, and because archive keys and event ids are derived from the bytes, that
 * lands on the same object and the same event id.
 *
 * Retrieving overlaps archiving: RETRs are pipelined ahead, and up to `storeConcurrency` messages
 * are being archived while the next ones arrive, within a memory budget.
 *
 * Login: a refreshable access token that the server rejects (EAUTH) is exchanged for a fresh one
 * through the credential source, and the login is retried once; a second rejection is reported.
 *
 * A run is usually one session. At a provider that lists only part of the mailbox per session
 * (Gmail, providers.ts), a session that handled everything it listed is followed by another while
 * the bounds, the deadline and the server's LOGIN-DELAY allow; when they do not, the result says
 * `moreMayRemain`.
 *
 * Where each part lives: the run across sessions (account-run.ts, with its bounds in run-bounds.ts
 * and its counts in run-tally.ts); one session (poll-session.ts: plan, RETR window in
 * retrieve-window.ts, memory budget in archive-budget.ts, QUIT or not); each message's record
 * (message-record.ts), its store and event (message-archiver.ts); the one sender of DELE and QUIT
 * (deleter.ts). They see the server only through the mailbox port (ports.ts), which session.ts
 * opens over the POP3 client (pop3-mailbox.ts).
 */

export interface PollDependencies {
  readonly credentials: CredentialSource;
  readonly archive: ArchiveStore;
  readonly events: EventSink;
  /** Needed for accounts in `keep` mode. */
  readonly seen?: SeenUidlStore;
  readonly clock?: Clock;
  /** How to open a logged-in session; defaults to `Pop3Client.connect`. */
  readonly connect?: (options: Pop3ClientOptions) => Promise<Pop3Client>;
}

export interface PollOptions {
  /** Identifies this run in summary events. */
  readonly runId: string;
  /**
   * Stop starting new retrievals at this time; what is in flight is finished, within
   * `hardStopGraceMs`.
   */
  readonly deadline?: Date;
  /**
   * The hard stop: a session still running this long after `deadline` (a server streaming an
   * endless reply, or trickling one just fast enough for the idle watchdog) is dropped without
   * QUIT, so that none of its DELEs is committed (RFC 1939 §6); the account's result is `EDEADLINE`
   * (retryable) with `stoppedBy: 'deadline'`, and the next run fetches the session's messages again
   * onto the same archive keys and event ids. Default `HARD_STOP_GRACE_MS` (10 s, hard-stop.ts).
   */
  readonly hardStopGraceMs?: number;
  /**
   * A graceful stop (the CLI's first SIGINT or SIGTERM): once aborted, no new message is started,
   * as at the deadline; the messages in flight are archived, announced and deleted, and the session
   * ends with QUIT (`stoppedBy: 'stopped'`). An account not begun by then is not polled
   * (`ESTOPPED`, skipped). Unlike `signal`, which cuts the connection, this loses no work.
   */
  readonly stop?: AbortSignal;
  /** Bounds for every account (an account's own bounds take precedence). */
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  /** Messages being archived at once. Default 64. */
  readonly storeConcurrency?: number;
  /** Most RETRs requested ahead of the one being read. Default 64. */
  readonly retrieveAhead?: number;
  /**
   * Most octets (by LIST sizes) requested ahead of the one being read; one message is always
   * requested, whatever its size. Default 2 MiB.
   */
  readonly retrieveAheadBytes?: number;
  /**
   * Message bytes held in memory across all messages being archived, and separately those held
   * in spool files (a single message may exceed it). Default 64 MiB.
   */
  readonly memoryBudgetBytes?: number;
  /** A message larger than this is spooled to a temp file. Default 8 MiB. */
  readonly spoolMemoryLimitBytes?: number;
  readonly spoolDir?: string;
  readonly metadataLimits?: MetadataLimits;
  readonly eventSource?: string;
  readonly timeouts?: Partial<Pop3Timeouts>;
  /** Largest message accepted; larger ones are left on the server and reported. */
  readonly maxMessageBytes?: number;
  readonly signal?: AbortSignal;
  /** Called after each message is handled. */
  readonly onProgress?: (progress: AccountProgress) => void;
}

export interface AccountProgress {
  readonly accountId: string;
  readonly planned: number;
  readonly fetched: number;
  readonly archived: number;
  readonly bytes: number;
}

export type AccountStatus = 'ok' | 'partial' | 'skipped' | 'failed';

export interface AccountResult {
  readonly accountId: string;
  readonly status: AccountStatus;
  /** Messages on the server when the run looked (in keep mode: those not archived before). */
  readonly listed: number;
  readonly fetched: number;
  readonly archived: number;
  /** Of `archived`, how many were already in the archive (fetched again after an interrupted run). */
  readonly alreadyArchived: number;
  /** DELEs committed by a successful QUIT. */
  readonly deleted: number;
  /** Messages that could not be fetched or archived this run (they stay on the server). */
  readonly failedMessages: number;
  readonly bytes: number;
  readonly durationMs: number;
  /** Messages left for a later run: bounds, deadline or failures. */
  readonly remaining: number;
  /**
   * Why fetching stopped early, when it did. `loginDelay`: the server lists part of the mailbox
   * per session and its LOGIN-DELAY forbids another login yet; `maxSessions`: the run opened
   * `MAX_SESSIONS_PER_RUN` sessions.
   */
  readonly stoppedBy?:
    'maxMessages' | 'maxBytes' | 'deadline' | 'stopped' | 'error' | 'loginDelay' | 'maxSessions';
  /**
   * The server lists only part of the mailbox per session (Gmail) and the last session listed
   * messages: more may be waiting beyond what `remaining` counts, for a later session.
   */
  readonly moreMayRemain?: boolean;
  /** The server's LOGIN-DELAY (RFC 2449 §6.5): do not log in again sooner. */
  readonly loginDelaySeconds?: number;
  readonly error?: FailureReport;
  /** Per-message problems that did not stop the run (first few). */
  readonly messageErrors: readonly FailureReport[];
}

export async function pollAccount(
  account: AccountConfig,
  deps: PollDependencies,
  options: PollOptions,
): Promise<AccountResult> {
  const mailbox = pop3Mailbox(account, deps, options);
  return new AccountRun(account, { ...deps, mailbox }, options).run();
}
