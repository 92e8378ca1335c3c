import { Worker } from 'node:worker_threads';

/**
 * Start-up optimisation for the CLI (imported first by main.ts, for its side effect).
 *
 * Node builds its store of root certificates (~140 PEM certificates parsed, ~16 ms here) the first
 * time any TLS context is made — even one given its own `ca`, since Node compares against the root
 * store when it adds a CA (crypto_context.cc, `GetOrCreateRootCertStore`). The store is one per
 * process, built once behind a thread-safe static initialiser. Making a throwaway context in a
 * worker thread builds it on the other core while the main thread loads the CLI's modules and
 * reads its config; the main thread's own context then takes ~2 ms instead of ~18 (measured with
 * `bench/cli-drain.ts`). If the main thread gets there first, it simply waits for the store, as it
 * would have built it anyway. The worker costs ~1.5 ms to start and ~10 MB of RSS, never keeps the
 * process alive, and any failure of it is ignored.
 */
export function prewarmTls(): void {
  try {
    const worker = new Worker("require('node:tls').createSecureContext();", { eval: true });
    worker.on('error', () => undefined);
    worker.unref();
  } catch {
    // An optimisation only.
  }
}

// Only for the commands that open TLS connections (poll, demo), not for --help or a usage error.
if (process.argv[2] === 'poll' || process.argv[2] === 'demo') prewarmTls();
