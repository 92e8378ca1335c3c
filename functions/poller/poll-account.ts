import {
  DEFAULT_MAX_MESSAGE_BYTES,
  Pop3Error,
  type MessageStream,
  type Pop3Client,
  type Pop3ClientOptions,
  type Pop3Timeouts,
} from '../pop3';
import type { AccountConfig } from './account';
import { archiveKey } from './archive-key';
import { describeFailure, PollError, type FailureReport } from './errors';
import { EventBatcher } from './event-batcher';
import { listMailbox, splitKeepMode, type Candidate } from './mailbox';
import { EVENT_SOURCE, stableEventId, type MessageArchivedDetail, type PollEvent } from './events';
import { DEFAULT_METADATA_LIMITS, readMetadata, type MessageMetadata, type MetadataLimits } from './metadata';
import {
  systemClock,
  type ArchiveStore,
  type Clock,
  type CredentialSource,
  type EventSink,
  type SeenUidlStore,
  type StoredObject,
} from './ports';
import type { ProviderPreset } from './providers';
import { openSession } from './session';
import { Spool } from './spool';

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
  /** Stop starting new retrievals at this time; what is in flight is finished. */
  readonly deadline?: Date;
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

const MAX_REPORTED_MESSAGE_ERRORS = 10;
/** Failures that mean the account was not polled this time, and nothing is wrong with it. */
const SKIPPED_CODES = new Set(['EIN_USE', 'ELOGIN_DELAY', 'ESTOPPED']);
/** DELEs queued before they are sent without waiting for the next RETRs (see `requestDele`). */
const DELE_BATCH = 32;
/** Sessions in one run at a partial-listing provider (Gmail lists ~250 messages per session). */
export const MAX_SESSIONS_PER_RUN = 40;

/** What one session did, for deciding whether to open another. */
interface SessionOutcome {
  readonly error?: unknown;
  readonly loginAt: Date;
  readonly listed: number;
  /** Archived this session and not in the archive before. */
  readonly newlyArchived: number;
  readonly failedMessages: number;
}

export async function pollAccount(
  account: AccountConfig,
  deps: PollDependencies,
  options: PollOptions,
): Promise<AccountResult> {
  return new AccountPoll(account, deps, options).run();
}

class AccountPoll {
  private readonly clock: Clock;
  private readonly started: Date;
  /** Decided at the first login, when the username is known (Gmail `recent:` forces keep). */
  private mode: 'delete' | 'keep';
  private preset: ProviderPreset | undefined;
  private sessions = 0;
  private moreMayRemain = false;
  private listed = 0;
  /** Messages and bytes (by LIST sizes) planned over all sessions, against the run's bounds. */
  private planned = 0;
  private plannedBytes = 0;
  private fetched = 0;
  private archived = 0;
  private alreadyArchived = 0;
  private deleRequested = 0;
  private deleted = 0;
  private failedMessages = 0;
  private bytes = 0;
  private stoppedBy: AccountResult['stoppedBy'];
  private loginDelaySeconds: number | undefined;
  private readonly messageErrors: FailureReport[] = [];
  private readonly batcher: EventBatcher;
  /** Set when archiving or publishing fails: no new messages are started after it. */
  private sinkFailure: unknown;
  /** This session's DELEs, settled before QUIT (they never reject). */
  private deles: Array<Promise<void>> = [];
  /** Messages archived and announced whose DELE has not been sent yet (see `requestDele`). */
  private readyToDelete: number[] = [];
  /** This session's messages the server has sent (+OK to RETR), and those archived and announced. */
  private retrieved = 0;
  private handled = 0;
  /** Keep mode: UIDLs of expired messages verified as archived and DELE'd this session. */
  private expiredDeleted: string[] = [];
  private client: Pop3Client | undefined;

  constructor(
    private readonly account: AccountConfig,
    private readonly deps: PollDependencies,
    private readonly options: PollOptions,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.started = this.clock.now();
    this.batcher = new EventBatcher(deps.events);
    this.mode = account.mode ?? 'delete';
  }

  async run(): Promise<AccountResult> {
    if (this.options.stop?.aborted) {
      return this.result(new PollError('ESTOPPED', 'the run was stopped before this account began'));
    }
    for (;;) {
      const outcome = await this.session();
      if (outcome.error !== undefined) {
        // A further session that the server will not open yet ends the draining, not the run: what
        // the earlier sessions did stands, and the rest waits for a later run.
        const code = (outcome.error as { code?: unknown }).code;
        if (this.sessions > 1 && outcome.listed === 0 && (code === 'ELOGIN_DELAY' || code === 'EIN_USE')) {
          this.stoppedBy = 'loginDelay';
          this.moreMayRemain = true;
          return this.result(undefined);
        }
        return this.result(outcome.error);
      }
      if (!this.anotherSession(outcome)) return this.result(undefined);
    }
  }

  /** One POP3 session: login, plan, retrieve and archive, DELE, QUIT. Failures are returned. */
  private async session(): Promise<SessionOutcome> {
    this.sessions += 1;
    const before = { listed: this.listed, archived: this.archived, already: this.alreadyArchived };
    const failedBefore = this.failedMessages;
    const loginAt = this.clock.now();
    const outcome = (error?: unknown): SessionOutcome => ({
      ...(error !== undefined ? { error } : {}),
      loginAt,
      listed: this.listed - before.listed,
      newlyArchived: this.archived - this.alreadyArchived - (before.archived - before.already),
      failedMessages: this.failedMessages - failedBefore,
    });
    this.deles = [];
    this.readyToDelete = [];
    this.deleRequested = 0;
    this.retrieved = 0;
    this.handled = 0;
    this.expiredDeleted = [];
    this.client = undefined;
    try {
      this.client = await this.login();
      this.loginDelaySeconds = this.client.capabilities.loginDelaySeconds;
      const fetch = await this.plan(this.client);
      await this.retrieveAndArchive(this.client, fetch);
      this.sendDeles(this.client);
      const error = this.sinkFailure;
      if (this.retrieved > this.handled && this.client.capabilities.expireDays === 0) {
        // RFC 2449 §6.7: at EXPIRE 0 the server does not keep what was retrieved; the session's end
        // (QUIT) removes every message it sent (Gmail, whose sessions list only what was never
        // downloaded, says EXPIRE 0 too). A message retrieved but not archived would be lost, so
        // the session is left without QUIT: the server commits nothing, and the next run fetches
        // this session's messages again (the archived ones land on the same keys, same event ids).
        // The DELEs' replies are awaited first (they commit nothing without QUIT), so that none is
        // reported as failed by the close.
        await Promise.all(this.deles);
        this.client.destroy();
        this.messageErrors.push(
          describeFailure(
            new PollError(
              'EUNCOMMITTED',
              `${this.retrieved - this.handled} retrieved message(s) not archived, and the server ` +
                'deletes what was retrieved (EXPIRE 0): session left without QUIT, nothing deleted',
            ),
          ),
        );
        return outcome(error);
      }
      // QUIT even after an archive or event failure: the session is healthy, and QUIT commits the
      // DELEs of the messages that were fully handled. It goes out right behind the last DELE
      // rather than after the DELEs' replies (performance: one round trip less, 50 ms on a slow
      // link): the server handles commands in order, so QUIT commits exactly the DELEs it accepted.
      // Every reply is still awaited before anything is counted as deleted.
      await Promise.all([...this.deles, this.client.quit()]);
      this.deleted += this.deleRequested;
      if (this.expiredDeleted.length > 0) await this.deps.seen?.forget(this.account.id, this.expiredDeleted);
      return outcome(error);
    } catch (error) {
      this.client?.destroy();
      return outcome(error);
    }
  }

  /**
   * Whether to open another session after a clean one: only at a provider that lists part of the
   * mailbox per session, after a session that listed messages and archived new ones (a server
   * listing the same messages again must not loop), within the run's bounds, its deadline and the
   * server's LOGIN-DELAY (RFC 2449 §6.5: counted from the previous login). When more may remain
   * but no session can be opened, the result says why (`stoppedBy`) and `moreMayRemain`.
   */
  private anotherSession(last: SessionOutcome): boolean {
    if (!this.preset?.partialListing) return false;
    if (this.stoppedBy !== undefined || last.failedMessages > 0) return false;
    if (last.listed === 0 || last.newlyArchived === 0) return false;
    const maxMessages = this.account.maxMessages ?? this.options.maxMessages ?? Infinity;
    const maxBytes = this.account.maxBytes ?? this.options.maxBytes ?? Infinity;
    const delayMs = (this.loginDelaySeconds ?? 0) * 1000;
    const stop = this.stopReason();
    if (this.planned >= maxMessages) this.stoppedBy = 'maxMessages';
    else if (this.plannedBytes >= maxBytes) this.stoppedBy = 'maxBytes';
    else if (stop) this.stoppedBy = stop;
    else if (this.clock.now().getTime() < last.loginAt.getTime() + delayMs) this.stoppedBy = 'loginDelay';
    else if (this.sessions >= MAX_SESSIONS_PER_RUN) this.stoppedBy = 'maxSessions';
    else return true;
    this.moreMayRemain = true;
    return false;
  }

  /** Opens a logged-in session (session.ts), and learns the account's provider preset and mode. */
  private async login(): Promise<Pop3Client> {
    const { client, connection } = await openSession(this.account, this.deps, this.options);
    this.preset = connection.preset;
    if (connection.keepOnly) this.mode = 'keep';
    return client;
  }

  /**
   * Lists the mailbox and decides what to retrieve this session: the new messages, then (keep mode
   * with deleteAfterDays) the expired ones, to be verified against the archive before their DELE.
   */
  private async plan(client: Pop3Client): Promise<Candidate[]> {
    const listing = await listMailbox(client);
    let candidates = listing.candidates;
    let expired: Candidate[] = [];
    if (this.mode === 'keep') {
      ({ fresh: candidates, expired } = await splitKeepMode(
        this.account,
        listing,
        this.deps.seen,
        this.clock.now(),
      ));
    }
    this.listed += candidates.length;
    // A message over maxMessageBytes by its LIST size is not retrieved at all: its retrieval could
    // only fail part-way, and at a server that deletes what was retrieved (EXPIRE 0) it would make
    // every session end without QUIT. (A LIST size that understates is still caught by the
    // client's limit as the message arrives.)
    const limit = this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const fits = (c: Candidate) => c.size <= limit;
    for (const c of candidates.filter((c) => !fits(c))) {
      const why = `message ${c.messageNumber} is ${c.size} octets by LIST, over the limit of ${limit}`;
      this.noteMessageError(new Pop3Error('ELIMIT', `${why}: left on the server`, { command: 'LIST' }));
    }
    // An expired message too large to retrieve cannot be verified, so it stays.
    candidates = [...candidates.filter(fits), ...expired.filter(fits)];

    // The bounds hold for the whole run, over all its sessions.
    const maxMessages = this.account.maxMessages ?? this.options.maxMessages ?? Infinity;
    const maxBytes = this.account.maxBytes ?? this.options.maxBytes ?? Infinity;
    const fetch: Candidate[] = [];
    for (const candidate of candidates) {
      if (this.planned >= maxMessages) {
        this.stoppedBy = 'maxMessages';
        break;
      }
      // LIST sizes are hints (servers get them wrong), good enough for a budget. The run's first
      // message is always taken so that a message larger than the budget cannot block the mailbox.
      if (this.planned > 0 && this.plannedBytes + candidate.size > maxBytes) {
        this.stoppedBy = 'maxBytes';
        break;
      }
      this.plannedBytes += candidate.size;
      this.planned += 1;
      fetch.push(candidate);
    }
    return fetch;
  }

  private async retrieveAndArchive(client: Pop3Client, plan: readonly Candidate[]): Promise<void> {
    // Performance: how far ahead to pipeline RETRs. Over a 50 ms round trip, 8 ahead of 20 KB
    // messages left the link idle most of the time (2.1 s for 200 messages, mpop 0.86 s); 64 ahead
    // fill it. The octet bound keeps what is in flight small when messages are large (at a deadline
    // or bound, what is in flight is still read and archived), and the unread replies wait in the
    // socket, not in memory (the client stops reading while a message's stream is full).
    const ahead = Math.max(1, this.options.retrieveAhead ?? 64);
    const aheadBytes = this.options.retrieveAheadBytes ?? 2 * 1024 * 1024;
    // Performance: more messages being stored at once let the stores' and the event sink's group
    // commits cover more of them per fsync (1000 × 20 KB into a directory: 4 at once took 0.94 s,
    // 32 ~0.49 s, 64 ~0.46 s; 256 no better: the fsyncs then take CPU from the POP3 server on a
    // two-core machine); memory and spool files stay bounded by `memoryBudgetBytes`.
    const concurrency = Math.max(1, this.options.storeConcurrency ?? 64);
    const budget = this.options.memoryBudgetBytes ?? 64 * 1024 * 1024;
    const spoolLimit = Math.min(this.options.spoolMemoryLimitBytes ?? 8 * 1024 * 1024, budget);
    const requested: Array<{ candidate: Candidate; stream: Promise<MessageStream> }> = [];
    const tasks = new Set<Promise<void>>();
    /** Wakes the loop below when a task ends (instead of a Promise.race over every task per message). */
    let taskEnded: (() => void) | undefined;
    let memoryHeld = 0;
    /**
     * Octets held in spool files by the messages being archived, bounded by the same budget: with
     * many messages archived at once, large ones must not fill a small temp directory (Lambda's
     * /tmp is 512 MB by default). A message alone may exceed it.
     */
    let fileHeld = 0;
    let next = 0;
    let bytesAhead = 0;

    const requestMore = () => {
      // Refill in batches, once half the window has been consumed: the RETRs then leave together
      // in one TLS record and one segment (the client corks commands issued in one tick), rather
      // than one record per message (performance: fewer writes for both ends).
      const halfFull = requested.length > 0 && (requested.length > ahead / 2 || bytesAhead > aheadBytes / 2);
      if (halfFull) return;
      // The DELEs waiting go out in the same write as these RETRs.
      this.sendDeles(client);
      while (requested.length < ahead && next < plan.length && this.sinkFailure === undefined) {
        if (requested.length > 0 && bytesAhead + plan[next]!.size > aheadBytes) return;
        const stop = this.stopReason();
        if (stop) {
          this.stoppedBy = stop;
          return;
        }
        const candidate = plan[next++]!;
        bytesAhead += candidate.size;
        requested.push({ candidate, stream: client.retr(candidate.messageNumber) });
      }
    };

    requestMore();
    while (requested.length > 0) {
      const { candidate, stream } = requested.shift()!;
      bytesAhead -= candidate.size;
      let spool: Spool;
      try {
        const body = await stream;
        this.retrieved += 1;
        spool = await Spool.fromStream(body, {
          memoryLimitBytes: spoolLimit,
          ...(this.options.spoolDir ? { dir: this.options.spoolDir } : {}),
        });
      } catch (error) {
        if (client.state === 'closed') {
          // The connection is gone: nothing more can be fetched or deleted in this session.
          await Promise.allSettled(tasks);
          throw error;
        }
        this.noteMessageError(error); // e.g. -ERR to RETR, or larger than maxMessageBytes
        requestMore();
        continue;
      }
      this.fetched += 1;
      this.bytes += spool.size;
      requestMore();
      // Bound the work in progress: messages being archived, and the bytes they hold in memory.
      const overBudget = () => memoryHeld + spool.memoryBytes > budget || fileHeld + spool.fileBytes > budget;
      while (tasks.size >= concurrency || (tasks.size > 0 && overBudget())) {
        await new Promise<void>((resolve) => (taskEnded = resolve));
      }
      const held = spool.memoryBytes;
      const heldInFile = spool.fileBytes;
      memoryHeld += held;
      fileHeld += heldInFile;
      const task: Promise<void> = this.archiveOne(client, candidate, spool)
        .catch((error: unknown) => {
          this.sinkFailure ??= error;
          this.noteMessageError(error);
        })
        .finally(async () => {
          memoryHeld -= held;
          fileHeld -= heldInFile;
          try {
            await spool.release();
          } finally {
            tasks.delete(task);
            taskEnded?.();
            taskEnded = undefined;
          }
        });
      tasks.add(task);
    }
    await Promise.all(tasks);
    if (this.sinkFailure !== undefined) this.stoppedBy = 'error';
  }

  /**
   * Archive → verify → publish → DELE (or remember, in keep mode). Throws if any step fails.
   * (Kept short, with its steps in the methods below: it runs for every message, and V8 spent more
   * time optimising one large async function than the steps cost.)
   */
  private async archiveOne(client: Pop3Client, candidate: Candidate, spool: Spool): Promise<void> {
    const key = archiveKey(this.account.id, spool.sha256);
    if (candidate.expired) return this.verifyExpired(client, candidate, spool, key);
    const metadata = await readMetadata(spool, this.options.metadataLimits ?? DEFAULT_METADATA_LIMITS);
    const stored = await this.store(candidate, spool, key);
    return this.announce(client, candidate, spool, key, stored, metadata);
  }

  /**
   * Keep mode, deleteAfterDays: an expired message is DELE'd only if the archive already holds
   * exactly its bytes (the store answers "already existed" for an identical object at its key).
   * Otherwise the server has given the archived message's UIDL to another one (RFC 1939 §7 allows
   * it once the first is gone): that one is new, so it is archived, announced and kept.
   */
  private async verifyExpired(
    client: Pop3Client,
    candidate: Candidate,
    spool: Spool,
    key: string,
  ): Promise<void> {
    const stored = await this.store(candidate, spool, key);
    if (!stored.alreadyExisted) {
      const metadata = await readMetadata(spool, this.options.metadataLimits ?? DEFAULT_METADATA_LIMITS);
      // Its own archive time starts now: the stores keep a UIDL's first time unless it is forgotten.
      await this.deps.seen!.forget(this.account.id, [candidate.uidl!]);
      return this.announce(client, candidate, spool, key, stored, metadata);
    }
    this.requestDele(client, candidate.messageNumber);
    this.expiredDeleted.push(candidate.uidl!);
    this.handled += 1;
  }

  /** Publishes the "Message Archived" event, then DELEs the message (or remembers it, in keep mode). */
  private async announce(
    client: Pop3Client,
    candidate: Candidate,
    spool: Spool,
    key: string,
    stored: StoredObject,
    metadata: MessageMetadata,
  ): Promise<void> {
    const now = this.clock.now();
    await this.batcher.publish(this.archivedEvent(candidate, spool, key, stored.location, metadata, now));
    this.archived += 1;
    if (stored.alreadyExisted) this.alreadyArchived += 1;
    if (this.mode === 'keep') {
      if (candidate.uidl !== undefined) await this.deps.seen!.add(this.account.id, [candidate.uidl], now);
    } else {
      this.requestDele(client, candidate.messageNumber);
    }
    this.handled += 1;
    this.options.onProgress?.({
      accountId: this.account.id,
      planned: this.planned,
      fetched: this.fetched,
      archived: this.archived,
      bytes: this.bytes,
    });
  }

  /** Puts the message in the archive and checks that what was stored is what was received. */
  private async store(candidate: Candidate, spool: Spool, key: string): Promise<StoredObject> {
    let stored: StoredObject;
    try {
      stored = await this.deps.archive.put({
        key,
        accountId: this.account.id,
        ...(candidate.uidl !== undefined ? { uidl: candidate.uidl } : {}),
        sha256: spool.sha256,
        size: spool.size,
        body: () => spool.body(),
        ...(spool.buffer ? { bytes: spool.buffer } : {}),
      });
    } catch (cause) {
      // Keep the store's own verdict when it gives one: a different object already at the key
      // (EINTEGRITY, not retryable) needs a person; a throttled service does not.
      const known = cause as { code?: unknown; retryable?: unknown };
      const code = known?.code === 'EINTEGRITY' ? 'EINTEGRITY' : 'EARCHIVE';
      throw new PollError(code, `archiving message ${candidate.messageNumber} failed: ${errorText(cause)}`, {
        cause,
        ...(typeof known?.retryable === 'boolean' ? { retryable: known.retryable } : {}),
      });
    }
    if (stored.sha256 !== spool.sha256 || stored.size !== spool.size) {
      throw new PollError(
        'EINTEGRITY',
        `archive reports sha256 ${stored.sha256} (${stored.size} octets) for a message received as ` +
          `${spool.sha256} (${spool.size} octets)`,
      );
    }
    return stored;
  }

  /** The "Message Archived" event for a stored message. */
  private archivedEvent(
    candidate: Candidate,
    spool: Spool,
    key: string,
    location: string,
    metadata: MessageMetadata,
    now: Date,
  ): PollEvent {
    const accountId = this.account.id;
    const eventId = stableEventId(accountId, candidate.uidl ?? '', spool.sha256);
    const detail: MessageArchivedDetail = {
      eventId,
      accountId,
      uidl: candidate.uidl ?? null,
      sha256: spool.sha256,
      size: spool.size,
      location,
      key,
      ...metadata,
      archivedAt: now.toISOString(),
    };
    return {
      id: eventId,
      source: this.options.eventSource ?? EVENT_SOURCE,
      detailType: 'Message Archived',
      time: now.toISOString(),
      detail,
    };
  }

  /**
   * Queues the DELE of a message that is archived and announced. DELEs leave in batches: with the
   * next refill of RETRs (one write, one TLS record), when DELE_BATCH are waiting, and before QUIT.
   * (Performance: one write and one server wake-up per DELE cost both ends CPU; a DELE takes
   * effect only at QUIT, RFC 1939 §6, so sending it later changes nothing else.)
   */
  private requestDele(client: Pop3Client, messageNumber: number): void {
    if (this.readyToDelete.push(messageNumber) >= DELE_BATCH) this.sendDeles(client);
  }

  /**
   * Sends the queued DELEs; their replies are not awaited here. With pipelining, a DELE's reply
   * comes after the replies to the RETRs already requested ahead, which are read only as the
   * retrieve loop consumes them; that loop may be waiting for a message task to end while the
   * client has stopped reading a RETR larger than its stream buffer (256 KiB). Awaiting it in a
   * task deadlocked (found by test/functions/poller/fault-injection.test.ts: 20 messages, the last
   * one 300 KB), and no idle timeout ends it since the client is the one holding back. Settled
   * before QUIT.
   */
  private sendDeles(client: Pop3Client): void {
    const numbers = this.readyToDelete;
    this.readyToDelete = [];
    for (const messageNumber of numbers) this.sendDele(client, messageNumber);
  }

  private sendDele(client: Pop3Client, messageNumber: number): void {
    this.deles.push(
      client.dele(messageNumber).then(
        () => {
          this.deleRequested += 1;
        },
        (error: unknown) => {
          // Archived and announced but not marked: it stays on the server and the next run
          // fetches it again, landing on the same key and event id. Not a failure of this
          // message, but reported so that a server refusing DELE does not go unnoticed.
          if (this.messageErrors.length < MAX_REPORTED_MESSAGE_ERRORS) {
            this.messageErrors.push(describeFailure(error));
          }
        },
      ),
    );
  }

  /** Why no new message may be started now, if none may. */
  private stopReason(): 'deadline' | 'stopped' | undefined {
    if (this.options.stop?.aborted) return 'stopped';
    if (this.options.deadline !== undefined && this.clock.now() >= this.options.deadline) return 'deadline';
    return undefined;
  }

  private noteMessageError(error: unknown): void {
    this.failedMessages += 1;
    if (this.messageErrors.length < MAX_REPORTED_MESSAGE_ERRORS)
      this.messageErrors.push(describeFailure(error));
  }

  private result(error: unknown): AccountResult {
    const report = error === undefined ? undefined : describeFailure(error);
    let status: AccountStatus = 'ok';
    if (report) status = SKIPPED_CODES.has(report.code) ? 'skipped' : 'failed';
    else if (this.failedMessages > 0) status = 'partial';
    if (report && this.stoppedBy === undefined && this.fetched > 0) this.stoppedBy = 'error';
    // What is still on the server for a later run to handle.
    const done = this.mode === 'keep' ? this.archived : this.deleted;
    const remaining = Math.max(0, this.listed - done);
    return {
      accountId: this.account.id,
      status,
      listed: this.listed,
      fetched: this.fetched,
      archived: this.archived,
      alreadyArchived: this.alreadyArchived,
      deleted: this.deleted,
      failedMessages: this.failedMessages,
      bytes: this.bytes,
      durationMs: this.clock.now().getTime() - this.started.getTime(),
      remaining,
      ...(this.stoppedBy ? { stoppedBy: this.stoppedBy } : {}),
      ...(this.moreMayRemain ? { moreMayRemain: true } : {}),
      ...(this.loginDelaySeconds !== undefined ? { loginDelaySeconds: this.loginDelaySeconds } : {}),
      ...(report ? { error: report } : {}),
      messageErrors: this.messageErrors,
    };
  }
}

/** UIDL by message number, leaving out UIDLs the server gave to more than one message. */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
