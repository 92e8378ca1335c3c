/**
 * The first SIGINT or SIGTERM stops the run gracefully (PollOptions.stop): no new message is
 * started, those in flight are archived, announced and deleted, and each session ends with QUIT.
 * A second one exits at once, which loses nothing either: without QUIT the server deletes nothing,
 * and the next run fetches those messages again (same archive keys, same event ids).
 */
export function stopOnSignals(live: boolean): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(
        `\npop3-poller: ${name} again: exiting now; unfinished messages stay on the server\n`,
      );
      process.exit(name === 'SIGINT' ? 130 : 143);
    }
    controller.abort();
    process.stderr.write(
      `${live ? '\r\x1b[K' : ''}pop3-poller: ${name}: finishing the messages in flight, then stopping ` +
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
