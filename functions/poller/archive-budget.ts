import type { Spool } from './spool';

/**
 * The messages being archived at once, and the bytes they hold: in memory, and separately in
 * spool files. With many messages archived at once, large ones must not fill a small temp
 * directory (Lambda's /tmp is 512 MB by default). A message alone may exceed the budget, so that
 * no message can block the mailbox.
 */
export class ArchiveBudget {
  private readonly tasks = new Set<Promise<void>>();
  /** Wakes a waiter when a task ends (instead of a Promise.race over every task per message). */
  private taskEnded: (() => void) | undefined;
  private memoryHeld = 0;
  private fileHeld = 0;

  constructor(
    private readonly concurrency: number,
    private readonly budgetBytes: number,
  ) {}

  /** Whether archiving of `spool` may start now. */
  admits(spool: Spool): boolean {
    const running = this.tasks.size;
    if (running >= this.concurrency) return false;
    if (running === 0) return true;
    return (
      this.memoryHeld + spool.memoryBytes <= this.budgetBytes &&
      this.fileHeld + spool.fileBytes <= this.budgetBytes
    );
  }

  /** Resolves when the next task ends. */
  taskEnd(): Promise<void> {
    return new Promise<void>((resolve) => (this.taskEnded = resolve));
  }

  /**
   * Counts `archiving` (already started, never rejecting) against the budget until it ends, then
   * releases the spool.
   */
  hold(spool: Spool, archiving: Promise<void>): void {
    const held = spool.memoryBytes;
    const heldInFile = spool.fileBytes;
    this.memoryHeld += held;
    this.fileHeld += heldInFile;
    const task: Promise<void> = archiving.finally(async () => {
      this.memoryHeld -= held;
      this.fileHeld -= heldInFile;
      try {
        await spool.release();
      } finally {
        this.tasks.delete(task);
        this.taskEnded?.();
        this.taskEnded = undefined;
      }
    });
    this.tasks.add(task);
  }

  /** Every task begun so far has ended (rejects if releasing a spool failed). */
  done(): Promise<unknown> {
    return Promise.all(this.tasks);
  }

  /** Every task begun so far has ended, whatever happened. */
  settled(): Promise<unknown> {
    return Promise.allSettled(this.tasks);
  }
}
