import type { JobQueue } from '../jobs/ports';
import type { ArchiveStore, CredentialSource, EventSink, SeenUidlStore } from '../poller/ports';
import type { LastPollWriter } from '../registry/ports';

/**
 * Ports whose adapter is loaded on first use. Loading an AWS SDK client is most of a Lambda's
 * cold start (about 70 ms for the SDK's shared core, 15–50 ms per client on the bench machine,
 * `npm run bench:bundle`), and most polls need few of them: an empty poll in delete mode touches
 * neither S3 nor EventBridge, and the job queue and registry are written only now and then. So
 * the worker builds each adapter, and with it the client's module, when a call first needs it.
 */

/** `load` run at most once at a time; a load that failed is tried again by the next call. */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}

export function lazyArchive(load: () => Promise<ArchiveStore>): ArchiveStore {
  const store = onFirstUse(load);
  return { put: async (item) => (await store()).put(item) };
}

export function lazyEventSink(load: () => Promise<EventSink>): EventSink {
  const sink = onFirstUse(load);
  return { publish: async (events) => (await sink()).publish(events) };
}

export function lazyJobQueue(load: () => Promise<JobQueue>): JobQueue {
  const queue = onFirstUse(load);
  return {
    enqueue: async (jobs) => (await queue()).enqueue(jobs),
    delayRedelivery: async (receiptHandle, seconds) =>
      (await queue()).delayRedelivery(receiptHandle, seconds),
  };
}

export function lazyLastPollWriter(load: () => Promise<LastPollWriter>): LastPollWriter {
  const writer = onFirstUse(load);
  return { writeLastPoll: async (id, lastPoll) => (await writer()).writeLastPoll(id, lastPoll) };
}

export function lazyCredentialSource(load: () => Promise<CredentialSource>): CredentialSource {
  const source = onFirstUse(load);
  return { credentials: async (account, request) => (await source()).credentials(account, request) };
}

/** A keep-mode state store that writes its changes in `flush()`. */
export interface FlushableSeenStore extends SeenUidlStore {
  flush(): Promise<void>;
}

export function lazySeenStore(load: () => Promise<FlushableSeenStore>): FlushableSeenStore {
  let loaded = false;
  const store = onFirstUse(async () => {
    const made = await load();
    loaded = true;
    return made;
  });
  return {
    seen: async (accountId, uidls) => (await store()).seen(accountId, uidls),
    add: async (accountId, uidls, at) => (await store()).add(accountId, uidls, at),
    forget: async (accountId, uidls) => (await store()).forget(accountId, uidls),
    // Never used, nothing to write: the client is not loaded for it.
    flush: async () => (loaded ? (await store()).flush() : undefined),
  };
}
