import { fsync } from 'node:fs';

/**
 * fsync in Node's thread pool (it waits for the device), for the local adapters.
 *
 * Performance: requests made during one turn of the event loop are handed to the pool together,
 * right after it (setImmediate), rather than one at a time as each message reaches its fsync.
 * Waking an idle pool thread for each request cost the main thread ~35–50 µs a time on the
 * benchmark machine (the woken thread preempts it); handed over together, the requests share the
 * wake-ups. Each promise still resolves only when its own fsync has succeeded.
 */
let queue: Array<{ fd: number; resolve: () => void; reject: (error: Error) => void }> = [];

export function fsyncInPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (queue.push({ fd, resolve, reject }) === 1) setImmediate(dispatch);
  });
}

function dispatch(): void {
  const batch = queue;
  queue = [];
  for (const { fd, resolve, reject } of batch) fsync(fd, (error) => (error ? reject(error) : resolve()));
}
