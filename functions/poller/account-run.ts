import type { AccountConfig } from './account';
import { PollError } from './errors';
import { HARD_STOP_GRACE_MS, HardStop } from './hard-stop';
import { EventBatcher } from './event-batcher';
import { EVENT_SOURCE } from './events';
import { MessageArchiver } from './message-archiver';
import type { AccountResult, PollOptions } from './poll-account';
import { PollSession } from './poll-session';
import {
  systemClock,
  type ArchiveStore,
  type Clock,
  type EventSink,
  type Mailbox,
  type MailboxLogin,
  type MailboxSession,
  type SeenUidlStore,
} from './ports';
import type { ProviderPreset } from './providers';
import { RunBounds } from './run-bounds';
import { RunTally } from './run-tally';

/** Sessions in one run at a partial-listing provider (Gmail lists ~250 messages per session). */
export const MAX_SESSIONS_PER_RUN = 40;

/** What a run works through: the mailbox port and the other ports (ports.ts). */
export interface RunDependencies {
  readonly mailbox: Mailbox;
  readonly archive: ArchiveStore;
  readonly events: EventSink;
  /** Needed for accounts in `keep` mode. */
  readonly seen?: SeenUidlStore;
  readonly clock?: Clock;
}

/** What one session did, for deciding whether to open another. */
interface SessionOutcome {
  readonly error?: unknown;
  readonly loginAt: Date;
  readonly listed: number;
  /** Archived this session and not in the archive before. */
  readonly newlyArchived: number;
  readonly failedMessages: number;
}

/**
 * One account's poll, across its sessions. A run is usually one session (poll-session.ts). At a
 * provider that lists only part of the mailbox per session (Gmail, providers.ts), a session that
 * handled everything it listed is followed by another while the bounds, the deadline and the
 * server's LOGIN-DELAY allow; when they do not, the result says `moreMayRemain`.
 */
export class AccountRun {
  private readonly clock: Clock;
  private readonly started: Date;
  /** Decided at the first login, when the username is known (Gmail `recent:` forces keep). */
  private mode: 'delete' | 'keep';
  private preset: ProviderPreset | undefined;
  private sessions = 0;
  private readonly tally = new RunTally();
  private readonly bounds: RunBounds;
  /** One per run, so that its event batches span the run's messages. */
  private readonly archiver: MessageArchiver;
  private readonly hardStop: HardStop;
  /** The session open now, for the hard stop to cut. */
  private current: MailboxSession | undefined;

  constructor(
    private readonly account: AccountConfig,
    private readonly deps: RunDependencies,
    private readonly options: PollOptions,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.started = this.clock.now();
    this.mode = account.mode ?? 'delete';
    this.bounds = new RunBounds(account, options, this.clock);
    this.hardStop = new HardStop(options.deadline, options.hardStopGraceMs ?? HARD_STOP_GRACE_MS, this.clock);
    this.archiver = new MessageArchiver(
      account.id,
      deps.archive,
      new EventBatcher(deps.events),
      options.eventSource ?? EVENT_SOURCE,
      this.clock,
    );
  }

  async run(): Promise<AccountResult> {
    try {
      if (this.options.stop?.aborted) {
        return this.result(new PollError('ESTOPPED', 'the run was stopped before this account began'));
      }
      // The hard stop: past the deadline by its grace, the session is dropped without QUIT, which
      // commits none of its DELEs (RFC 1939 §6). A mailbox port over the POP3 client is cut by the
      // signal (login included); `abort()` cuts any other.
      if (this.hardStop.fired) {
        this.tally.stoppedBy = 'deadline';
        return this.result(
          new PollError(
            'EDEADLINE',
            'the deadline and its grace had passed before this account began: not polled',
          ),
        );
      }
      this.hardStop.onFire(() => this.current?.abort());
      return await this.runSessions();
    } finally {
      this.hardStop.dispose();
    }
  }

  private async runSessions(): Promise<AccountResult> {
    for (;;) {
      const outcome = await this.session();
      if (outcome.error !== undefined && this.hardStop.fired) {
        this.tally.stoppedBy = 'deadline';
        return this.result(
          new PollError(
            'EDEADLINE',
            `the deadline passed ${this.graceMs()} ms ago with the session still running: connection ` +
              'dropped without QUIT, nothing deleted in that session',
            { cause: outcome.error },
          ),
        );
      }
      if (outcome.error !== undefined) {
        // A further session that the server will not open yet ends the draining, not the run: what
        // the earlier sessions did stands, and the rest waits for a later run.
        const code = (outcome.error as { code?: unknown }).code;
        if (this.sessions > 1 && outcome.listed === 0 && (code === 'ELOGIN_DELAY' || code === 'EIN_USE')) {
          this.tally.stoppedBy = 'loginDelay';
          this.tally.moreMayRemain = true;
          return this.result(undefined);
        }
        return this.result(outcome.error);
      }
      if (!this.anotherSession(outcome)) return this.result(undefined);
    }
  }

  /** One POP3 session: login, then the session's work (poll-session.ts). Failures are returned. */
  private async session(): Promise<SessionOutcome> {
    this.sessions += 1;
    const { tally } = this;
    const before = { listed: tally.listed, newlyArchived: tally.newlyArchived, failed: tally.failedMessages };
    const loginAt = this.clock.now();
    const error = await this.loginAndPoll();
    return {
      ...(error !== undefined ? { error } : {}),
      loginAt,
      listed: tally.listed - before.listed,
      newlyArchived: tally.newlyArchived - before.newlyArchived,
      failedMessages: tally.failedMessages - before.failed,
    };
  }

  /** Logs in (learning the account's provider preset and mode), then runs the session. */
  private async loginAndPoll(): Promise<unknown> {
    let login: MailboxLogin;
    try {
      login = await this.deps.mailbox.open({ signal: this.hardStop.signal });
    } catch (error) {
      return error;
    }
    this.current = login.session;
    if (this.hardStop.fired) login.session.abort();
    this.preset = login.preset;
    if (login.keepOnly) this.mode = 'keep';
    this.tally.loginDelaySeconds = login.session.loginDelaySeconds;
    const session = new PollSession(
      {
        account: this.account,
        options: this.options,
        mode: this.mode,
        seen: this.deps.seen,
        clock: this.clock,
        bounds: this.bounds,
        tally: this.tally,
        archiver: this.archiver,
      },
      login.session,
    );
    try {
      return await session.run();
    } finally {
      this.current = undefined;
    }
  }

  private graceMs(): number {
    return Math.max(0, this.options.hardStopGraceMs ?? HARD_STOP_GRACE_MS);
  }

  /**
   * Whether to open another session after a clean one: only at a provider that lists part of the
   * mailbox per session, after a session that listed messages and archived new ones (a server
   * listing the same messages again must not loop), within the run's bounds, its deadline and the
   * server's LOGIN-DELAY (RFC 2449 §6.5: counted from the previous login). When more may remain
   * but no session can be opened, the result says why (`stoppedBy`) and `moreMayRemain`.
   */
  private anotherSession(last: SessionOutcome): boolean {
    const { tally } = this;
    if (!this.preset?.partialListing) return false;
    if (tally.stoppedBy !== undefined || last.failedMessages > 0) return false;
    if (last.listed === 0 || last.newlyArchived === 0) return false;
    const delayMs = (tally.loginDelaySeconds ?? 0) * 1000;
    const bound = this.bounds.reached();
    const stop = this.bounds.stopReason();
    if (bound) tally.stoppedBy = bound;
    else if (stop) tally.stoppedBy = stop;
    else if (this.clock.now().getTime() < last.loginAt.getTime() + delayMs) tally.stoppedBy = 'loginDelay';
    else if (this.sessions >= MAX_SESSIONS_PER_RUN) tally.stoppedBy = 'maxSessions';
    else return true;
    tally.moreMayRemain = true;
    return false;
  }

  private result(error: unknown): AccountResult {
    const durationMs = this.clock.now().getTime() - this.started.getTime();
    return this.tally.result(this.account.id, this.mode, durationMs, error);
  }
}
