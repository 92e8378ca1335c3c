import type { AccountConfig } from './account';
import type { Candidate } from './mailbox';
import type { PollOptions } from './poll-account';
import type { Clock } from './ports';

/**
 * The limits of one account's run, which hold over all its sessions: messages and bytes (by LIST
 * sizes) planned so far against `maxMessages` / `maxBytes`, and the deadline and graceful stop
 * that end the starting of new messages.
 */
export class RunBounds {
  /** Messages and bytes (by LIST sizes) planned over all sessions, against the run's bounds. */
  planned = 0;
  plannedBytes = 0;
  private readonly maxMessages: number;
  private readonly maxBytes: number;

  constructor(
    account: AccountConfig,
    private readonly options: PollOptions,
    private readonly clock: Clock,
  ) {
    // An account's own bounds take precedence over the run's.
    this.maxMessages = account.maxMessages ?? options.maxMessages ?? Infinity;
    this.maxBytes = account.maxBytes ?? options.maxBytes ?? Infinity;
  }

  /**
   * Plans what of `candidates`, in order, this session fetches; `stoppedBy` says which bound cut
   * the list short, when one did.
   */
  plan(candidates: readonly Candidate[]): { fetch: Candidate[]; stoppedBy?: 'maxMessages' | 'maxBytes' } {
    const fetch: Candidate[] = [];
    for (const candidate of candidates) {
      if (this.planned >= this.maxMessages) return { fetch, stoppedBy: 'maxMessages' };
      // LIST sizes are hints (servers get them wrong), good enough for a budget. The run's first
      // message is always taken so that a message larger than the budget cannot block the mailbox.
      if (this.planned > 0 && this.plannedBytes + candidate.size > this.maxBytes) {
        return { fetch, stoppedBy: 'maxBytes' };
      }
      this.plannedBytes += candidate.size;
      this.planned += 1;
      fetch.push(candidate);
    }
    return { fetch };
  }

  /** Which bound the plans so far have reached, if one has. */
  reached(): 'maxMessages' | 'maxBytes' | undefined {
    if (this.planned >= this.maxMessages) return 'maxMessages';
    if (this.plannedBytes >= this.maxBytes) return 'maxBytes';
    return undefined;
  }

  /** Why no new message may be started now, if none may. */
  stopReason(): 'deadline' | 'stopped' | undefined {
    if (this.options.stop?.aborted) return 'stopped';
    if (this.options.deadline !== undefined && this.clock.now() >= this.options.deadline) return 'deadline';
    return undefined;
  }
}
