/** What a command says when a signal stops it (`poll`, `replay`). */
export interface StopSignalsOptions {
  /** Where the notices go. @default process.stderr */
  readonly stderr?: { write(text: string): unknown };
  /** stderr shows a progress line, which the first notice clears. */
  readonly live: boolean;
  /** What the command still does after the first signal, e.g. `finishing the messages in flight`. */
  readonly finishing: string;
  /**
   * What to know when the second signal exits at once, read at that moment (e.g. how to resume);
   * undefined adds nothing.
   */
  readonly onExit?: () => string | undefined;
}

/**
 * The first SIGINT or SIGTERM aborts the returned signal, so the command stops gracefully after
 * what is in flight; a second one exits at once (130 for SIGINT, 143 for SIGTERM). `dispose`
 * removes the handlers.
 */
export function stopOnSignals(options: StopSignalsOptions): { signal: AbortSignal; dispose: () => void } {
  const stderr = options.stderr ?? process.stderr;
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      const note = options.onExit?.();
      stderr.write(`\npop3-poller: ${name} again: exiting now${note ? `; ${note}` : ''}\n`);
      process.exit(name === 'SIGINT' ? 130 : 143);
    }
    controller.abort();
    stderr.write(
      `${options.live ? '\r\x1b[K' : ''}pop3-poller: ${name}: ${options.finishing}, then stopping ` +
        `(${name} again to exit at once)\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
