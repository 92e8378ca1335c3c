import type { Clock } from './ports';

/**
 * How long past `PollOptions.deadline` a session may go on before it is cut. At the deadline no
 * new message starts (run-bounds.ts); what is in flight then is at most the message being read plus
 * `retrieveAheadBytes` (2 MiB by default) of pipelined RETRs, and the stores of up to
 * `storeConcurrency` messages. A normal server sends 2 MiB in well under a second on a LAN and in
 * about 2 s at 1 MB/s, so 10 s finishes the work in flight everywhere but on a crawling link,
 * while a server streaming an endless reply (or trickling one just fast enough for the progress
 * watchdog, functions/pop3/progress-watchdog.ts) is cut 10 s after the deadline instead of after
 * up to a gigabyte (maxMessageBytes + maxDiscardBytes).
 */
export const HARD_STOP_GRACE_MS = 10_000;

/**
 * The hard stop of one account's run: once `deadline + graceMs` has passed, `signal` aborts, which
 * cuts the POP3 connection without QUIT (the client listens to it), and `onFire` listeners (the
 * run, to drop a mailbox port that does not take the signal) are told. A run without a deadline
 * has no hard stop.
 */
export class HardStop {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(deadline: Date | undefined, graceMs: number, clock: Clock) {
    if (deadline === undefined) return;
    const delayMs = deadline.getTime() + Math.max(0, graceMs) - clock.now().getTime();
    if (delayMs <= 0) {
      this.controller.abort(this.reason());
      return;
    }
    this.timer = setTimeout(() => this.fire(), delayMs);
    // The sockets keep the process alive while the run matters; the timer alone must not.
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get fired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Calls `listener` when the stop fires (at once if it has). */
  onFire(listener: () => void): void {
    if (this.fired) listener();
    else this.listeners.push(listener);
  }

  /** The run ended: the timer is no longer needed. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.length = 0;
  }

  private fire(): void {
    this.timer = undefined;
    this.controller.abort(this.reason());
    for (const listener of this.listeners.splice(0)) listener();
  }

  private reason(): Error {
    return new Error('the deadline passed by its grace period');
  }
}
