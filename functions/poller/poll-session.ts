import type { AccountConfig } from './account';
import { ArchiveBudget } from './archive-budget';
import { Deleter } from './deleter';
import { describeFailure, PollError } from './errors';
import { listMailbox, splitKeepMode, type Candidate } from './mailbox';
import type { MessageArchiver } from './message-archiver';
import { MessageRecord } from './message-record';
import { DEFAULT_METADATA_LIMITS, readMetadata, type MessageMetadata } from './metadata';
import type { PollOptions } from './poll-account';
import type { Clock, MailboxSession, SeenUidlStore } from './ports';
import { RetrieveWindow } from './retrieve-window';
import type { RunBounds } from './run-bounds';
import type { RunTally } from './run-tally';
import { Spool } from './spool';

/** What a session works within: its run's settings, bounds and tally (account-run.ts). */
export interface SessionContext {
  readonly account: AccountConfig;
  readonly options: PollOptions;
  readonly mode: 'delete' | 'keep';
  /** Needed in keep mode. */
  readonly seen: SeenUidlStore | undefined;
  readonly clock: Clock;
  readonly bounds: RunBounds;
  readonly tally: RunTally;
  readonly archiver: MessageArchiver;
}

/**
 * One logged-in session of a run: plan from the listing, retrieve and archive (RETRs pipelined
 * ahead, archiving overlapped within a memory budget), DELE what was archived and announced, and
 * QUIT — or, where QUIT would lose a message, end without it.
 */
export class PollSession {
  /** Messages the server has sent (+OK to RETR), and those archived and announced. */
  private retrieved = 0;
  private handled = 0;
  /** Set when archiving or publishing fails: no new messages are started after it. */
  private sinkFailure: unknown;
  /** Keep mode: UIDLs of expired messages verified as archived and DELE'd this session. */
  private readonly expiredDeleted: string[] = [];
  private readonly deleter: Deleter;

  constructor(
    private readonly ctx: SessionContext,
    private readonly mailbox: MailboxSession,
  ) {
    this.deleter = new Deleter(mailbox, (error) => ctx.tally.report(error));
  }

  /** Runs the session to its end; resolves with what failed it, if anything did (never rejects). */
  async run(): Promise<unknown> {
    try {
      const plan = await this.plan();
      await this.retrieveAndArchive(plan);
      const error = this.sinkFailure;
      if (this.retrieved > this.handled && this.mailbox.expireDays === 0) {
        // RFC 2449 §6.7: at EXPIRE 0 the server does not keep what was retrieved; the session's end
        // (QUIT) removes every message it sent (Gmail, whose sessions list only what was never
        // downloaded, says EXPIRE 0 too). A message retrieved but not archived would be lost, so
        // the session is left without QUIT: the server commits nothing, and the next run fetches
        // this session's messages again (the archived ones land on the same keys, same event ids).
        await this.deleter.abandon();
        this.ctx.tally.messageErrors.push(
          describeFailure(
            new PollError(
              'EUNCOMMITTED',
              `${this.retrieved - this.handled} retrieved message(s) not archived, and the server ` +
                'deletes what was retrieved (EXPIRE 0): session left without QUIT, nothing deleted',
            ),
          ),
        );
        return error;
      }
      // QUIT even after an archive or event failure: the session is healthy, and QUIT commits the
      // DELEs of the messages that were fully handled (deleter.ts: QUIT right behind the DELEs).
      const deleted = await this.deleter.commit();
      this.ctx.tally.deleted += deleted;
      if (this.expiredDeleted.length > 0)
        await this.ctx.seen?.forget(this.ctx.account.id, this.expiredDeleted);
      return error;
    } catch (error) {
      this.mailbox.abort();
      return error;
    }
  }

  /**
   * Lists the mailbox and decides what to retrieve this session: the new messages, then (keep mode
   * with deleteAfterDays) the expired ones, to be verified against the archive before their DELE.
   */
  private async plan(): Promise<Candidate[]> {
    const { ctx, mailbox } = this;
    const listing = await listMailbox(mailbox);
    let candidates = listing.candidates;
    let expired: Candidate[] = [];
    if (ctx.mode === 'keep') {
      ({ fresh: candidates, expired } = await splitKeepMode(ctx.account, listing, ctx.seen, ctx.clock.now()));
    }
    ctx.tally.listed += candidates.length;
    // A message over maxMessageBytes by its LIST size is not retrieved at all: its retrieval could
    // only fail part-way, and at a server that deletes what was retrieved (EXPIRE 0) it would make
    // every session end without QUIT. (A LIST size that understates is still caught by the
    // client's limit as the message arrives.)
    const limit = mailbox.maxMessageBytes;
    const fits = (c: Candidate) => c.size <= limit;
    for (const c of candidates.filter((c) => !fits(c))) {
      ctx.tally.messageFailed(mailbox.tooLarge(c.messageNumber, c.size));
    }
    // An expired message too large to retrieve cannot be verified, so it stays.
    candidates = [...candidates.filter(fits), ...expired.filter(fits)];
    // The bounds hold for the whole run, over all its sessions.
    const { fetch, stoppedBy } = ctx.bounds.plan(candidates);
    if (stoppedBy !== undefined) ctx.tally.stoppedBy = stoppedBy;
    return fetch;
  }

  private async retrieveAndArchive(plan: readonly Candidate[]): Promise<void> {
    const { options, tally } = this.ctx;
    // Performance: how far ahead to pipeline RETRs. Over a 50 ms round trip, 8 ahead of 20 KB
    // messages left the link idle most of the time (2.1 s for 200 messages, mpop 0.86 s); 64 ahead
    // fill it. The octet bound keeps what is in flight small when messages are large (at a deadline
    // or bound, what is in flight is still read and archived).
    const window = new RetrieveWindow(
      this.mailbox,
      plan,
      Math.max(1, options.retrieveAhead ?? 64),
      options.retrieveAheadBytes ?? 2 * 1024 * 1024,
      this.deleter,
      this.mayStart,
    );
    // Performance: more messages being stored at once let the stores' and the event sink's group
    // commits cover more of them per fsync (1000 × 20 KB into a directory: 4 at once took 0.94 s,
    // 32 ~0.49 s, 64 ~0.46 s; 256 no better: the fsyncs then take CPU from the POP3 server on a
    // two-core machine); memory and spool files stay bounded by `memoryBudgetBytes`.
    const budgetBytes = options.memoryBudgetBytes ?? 64 * 1024 * 1024;
    const budget = new ArchiveBudget(Math.max(1, options.storeConcurrency ?? 64), budgetBytes);
    const spoolOptions = {
      memoryLimitBytes: Math.min(options.spoolMemoryLimitBytes ?? 8 * 1024 * 1024, budgetBytes),
      ...(options.spoolDir ? { dir: options.spoolDir } : {}),
    };

    window.refill();
    for (let next = window.take(); next !== undefined; next = window.take()) {
      let spool: Spool;
      try {
        const body = await next.body;
        this.retrieved += 1;
        spool = await Spool.fromStream(body, spoolOptions);
      } catch (error) {
        if (!this.mailbox.isOpen) {
          // The connection is gone: nothing more can be fetched or deleted in this session.
          await budget.settled();
          throw error;
        }
        tally.messageFailed(error); // e.g. -ERR to RETR, or larger than maxMessageBytes
        window.refill();
        continue;
      }
      tally.fetched += 1;
      tally.bytes += spool.size;
      window.refill();
      // Bound the work in progress: messages being archived, and the bytes they hold.
      while (!budget.admits(spool)) await budget.taskEnd();
      const record = new MessageRecord(next.candidate, spool, this.ctx.account.id);
      budget.hold(
        spool,
        this.archiveOne(record).catch((error: unknown) => {
          this.sinkFailure ??= error;
          tally.messageFailed(error);
        }),
      );
    }
    await budget.done();
    if (this.sinkFailure !== undefined) tally.stoppedBy = 'error';
  }

  /** Whether a new message may be started: not after a failure, at the deadline or a stop. */
  private readonly mayStart = (): boolean => {
    if (this.sinkFailure !== undefined) return false;
    const stop = this.ctx.bounds.stopReason();
    if (stop) {
      this.ctx.tally.stoppedBy = stop;
      return false;
    }
    return true;
  };

  /**
   * Archive → verify → publish → DELE (or remember, in keep mode). Throws if any step fails.
   * (Kept short, with its steps in the methods below: it runs for every message, and V8 spent more
   * time optimising one large async function than the steps cost.)
   */
  private async archiveOne(record: MessageRecord): Promise<void> {
    if (record.candidate.expired) return this.verifyExpired(record);
    const metadata = await readMetadata(
      record.spool,
      this.ctx.options.metadataLimits ?? DEFAULT_METADATA_LIMITS,
    );
    await this.ctx.archiver.store(record);
    return this.announce(record, metadata);
  }

  /**
   * Keep mode, deleteAfterDays: an expired message is DELE'd only if the archive already holds
   * exactly its bytes (the store answers "already existed" for an identical object at its key).
   * Otherwise the server has given the archived message's UIDL to another one (RFC 1939 §7 allows
   * it once the first is gone): that one is new, so it is archived, announced and kept.
   */
  private async verifyExpired(record: MessageRecord): Promise<void> {
    const { ctx } = this;
    await ctx.archiver.store(record);
    if (!record.alreadyArchived) {
      const metadata = await readMetadata(
        record.spool,
        ctx.options.metadataLimits ?? DEFAULT_METADATA_LIMITS,
      );
      // Its own archive time starts now: the stores keep a UIDL's first time unless it is forgotten.
      await ctx.seen!.forget(ctx.account.id, [record.uidl!]);
      return this.announce(record, metadata);
    }
    record.announcedEarlier();
    this.deleter.accept(record);
    this.expiredDeleted.push(record.uidl!);
    this.handled += 1;
  }

  /** Publishes the "Message Archived" event, then DELEs the message (or remembers it, in keep mode). */
  private async announce(record: MessageRecord, metadata: MessageMetadata): Promise<void> {
    const { ctx } = this;
    const { tally } = ctx;
    const now = ctx.clock.now();
    await ctx.archiver.publish(record, metadata);
    record.announced();
    tally.archived += 1;
    if (record.alreadyArchived) tally.alreadyArchived += 1;
    if (ctx.mode === 'keep') {
      if (record.uidl !== undefined) await ctx.seen!.add(ctx.account.id, [record.uidl], now);
    } else {
      this.deleter.accept(record);
    }
    this.handled += 1;
    ctx.options.onProgress?.({
      accountId: ctx.account.id,
      planned: ctx.bounds.planned,
      fetched: tally.fetched,
      archived: tally.archived,
      bytes: tally.bytes,
    });
  }
}
