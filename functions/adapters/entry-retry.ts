import { backoffMs, describeSdkError, errorName, sleep as defaultSleep } from './sdk-errors';

/**
 * The one retry policy of the batch adapters (EventBridge PutEvents, SQS SendMessageBatch, DynamoDB
 * BatchWriteItem):
 *
 * - **A request that fails as a whole is the SDK's to retry.** Every client retries throttling,
 *   5xx and network errors itself (standard mode, 3 attempts, backoff with jitter). An adapter that
 *   looped on top of that would send a throttled request up to 3 × its own attempts — more load
 *   on a service that is already shedding it, and more billed requests. So when `send` throws,
 *   every entry of that request is reported failed with the SDK's error, at once.
 * - **Entries that failed inside a successful response are ours to retry**, because the SDK cannot
 *   see them: the response was a 200. Those whose failure can clear are sent again, with
 *   exponential backoff, at most `maxRounds` rounds in all (counting the first send).
 */

export interface EntryFailure {
  readonly code: string;
  readonly message: string;
  /** The entry itself is wrong (a bad argument, access denied): sending it again cannot help. */
  readonly permanent: boolean;
}

/** What one request did: the failures by entry, absent for entries that succeeded. */
export type RoundResult<E> = ReadonlyMap<E, EntryFailure>;

export interface EntryRetryOptions {
  /** Sends of an entry, counting the first. @default 3 */
  readonly maxRounds?: number;
  /** First delay between rounds; doubles each round. @default 100 */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told before each re-send (for a log line). */
  readonly onRetry?: (round: number, entries: number, failure: EntryFailure) => void;
}

export interface Failed<E> {
  readonly entry: E;
  readonly failure: EntryFailure;
}

/** Sends `entries` with `send` (one request), re-sending entries that failed transiently; returns what finally failed. */
export async function sendWithEntryRetries<E>(
  entries: readonly E[],
  send: (entries: readonly E[]) => Promise<RoundResult<E>>,
  options: EntryRetryOptions = {},
): Promise<Failed<E>[]> {
  const maxRounds = options.maxRounds ?? 3;
  const sleep = options.sleep ?? defaultSleep;
  const failed: Failed<E>[] = [];
  let pending = entries;
  for (let round = 1; pending.length > 0; round++) {
    let result: RoundResult<E>;
    try {
      result = await send(pending);
    } catch (error) {
      // Already retried by the SDK: report, do not loop.
      const failure = { code: errorName(error), message: describeSdkError(error), permanent: false };
      return [...failed, ...pending.map((entry) => ({ entry, failure }))];
    }
    const retry: Failed<E>[] = [];
    for (const entry of pending) {
      const failure = result.get(entry);
      if (failure === undefined) continue;
      (failure.permanent ? failed : retry).push({ entry, failure });
    }
    if (retry.length === 0) break;
    if (round >= maxRounds) return [...failed, ...retry];
    options.onRetry?.(round, retry.length, retry[0]!.failure);
    await sleep(backoffMs(round, options.baseDelayMs ?? 100));
    pending = retry.map((r) => r.entry);
  }
  return failed;
}
