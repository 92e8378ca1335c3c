/**
 * A server that answers slowly but never falls silent defeats an idle timeout: one octet every
 * 100 ms keeps a 60 s socket timeout from ever firing, and a multi-line reply (LIST, RETR) can then
 * last for as long as its size limit allows, hours at that rate. (Found by the fuzz suite, test/fuzz:
 * a RETR dripped one octet per 100 ms held a poll with a 400 ms idle timeout for minutes.)
 *
 * The watchdog asks for progress every period (the idle timeout): at least `MIN_PROGRESS_OCTETS`
 * received, or a reply completed, or a command sent, or the client itself holding back (paused for
 * a slow consumer). A period without any of these is a stall. Checked on a fixed interval, so a
 * stall is reported between one and two periods after the last progress.
 */

/** Octets per idle period below which a server that is not silent still counts as stalled. */
export const MIN_PROGRESS_OCTETS = 1024;

export class ProgressWatchdog {
  private octets = 0;
  private progressed = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly periodMs: number,
    /** Called with the octets received in a period without progress. */
    private readonly onStall: (octets: number) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.periodMs);
    // The socket keeps the process alive while it matters; the watchdog alone must not.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  received(octets: number): void {
    this.octets += octets;
    if (this.octets >= MIN_PROGRESS_OCTETS) this.progressed = true;
  }

  /** A reply (or part of one: a status line, a body's end) arrived, a command left, or the client paused. */
  progress(): void {
    this.progressed = true;
  }

  private tick(): void {
    const { progressed, octets } = this;
    this.progressed = false;
    this.octets = 0;
    if (!progressed) this.onStall(octets);
  }
}
