import { messageArchivedEvent } from '../poller/archived-event';
import type { MessageArchivedDetail, PollEvent } from '../poller/events';
import { DEFAULT_METADATA_LIMITS, readMetadata, type MetadataLimits } from '../poller/metadata';
import type { EventSink } from '../poller/ports';
import { Spool } from '../poller/spool';
import { asReplayError, ReplayError } from './errors';
import type { ArchiveEntry, ArchiveReader, ArchiveRecord, CheckpointStore } from './ports';
import { inWindow, matchesHeaders, prefixWithin, type ReplayRange } from './range';
import type { TokenBucket } from './rate';

/**
 * The replay workflow: list the archive in a fixed order (accounts sorted, keys in byte order) →
 * keep what is in range → read each object → check its bytes against the SHA-256 its key names →
 * recompute the metadata from the bytes (readMetadata, the poll's own code and limits) → build the
 * original "Message Archived" event from the archive record (messageArchivedEvent: same id, same
 * detail) and mark it with `detail.replay` → publish, at the given rate → move the checkpoint.
 *
 * Reads overlap (`readConcurrency` objects at a time, each held in memory up to 8 MiB and spooled
 * to a temp file beyond, as a poll does), while events go out strictly in order, so that the
 * checkpoint can be one key. An object whose bytes do not match its key is reported (`onCorrupt`)
 * and skipped, never "fixed"; the run goes on and its result lists it. Nothing is ever written to
 * the archive: the reader only lists and reads.
 */

export interface ReplayDependencies {
  readonly reader: ArchiveReader;
  /** Where events go; not used in a dry run. */
  readonly sink?: EventSink;
  readonly checkpoints?: CheckpointStore;
  /** Events per second; none: as fast as the sink takes them. */
  readonly rate?: TokenBucket;
}

export interface ReplayOptions {
  readonly runId: string;
  readonly requestedAt: Date;
  readonly range: ReplayRange;
  /** Resume: start after this key (a checkpoint). */
  readonly resumeAfter?: string;
  /** Count what would be emitted (reading and verifying it), emit nothing, save no checkpoint. */
  readonly dryRun?: boolean;
  /** Stops the run: no new read, no new event; what was published is checkpointed. */
  readonly stop?: AbortSignal;
  /** Objects read at once. @default 8 */
  readonly readConcurrency?: number;
  /** Events per publish call (EventBridge takes 10 per request). @default 10 */
  readonly batchSize?: number;
  /** Bytes of a message held in memory; the rest goes to a temp file. @default 8 MiB (as a poll) */
  readonly spoolMemoryLimitBytes?: number;
  readonly metadataLimits?: MetadataLimits;
  /** Told after each object is dealt with. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Told about each object whose bytes do not match its key. */
  readonly onCorrupt?: (error: ReplayError) => void;
}

export interface ReplayProgress {
  /** Objects listed (after the key prefix and the checkpoint). */
  readonly listed: number;
  /** Objects whose events were emitted (or would be, in a dry run). */
  readonly messages: number;
  readonly events: number;
  /** Octets of those objects. */
  readonly bytes: number;
  /** Objects with no event in the time window, or not matching the header filters. */
  readonly outOfRange: number;
  /** Keys of objects whose bytes do not hash to their key. */
  readonly corrupt: readonly string[];
  /** The key just dealt with. */
  readonly key: string | undefined;
}

export interface ReplayResult extends ReplayProgress {
  /** `complete`: the whole range; `stopped`: by `stop` (`error` ESTOPPED); `failed`: see `error`. */
  readonly status: 'complete' | 'stopped' | 'failed';
  /** The last key all of whose events were emitted (or dealt with otherwise), if any. */
  readonly checkpoint: string | undefined;
  readonly error?: ReplayError;
}

/**
 * How far an archive time may precede the object's LastModified (clock skew of the machine that
 * archived it). An object not yet read (S3) whose LastModified is earlier than `since` by more than
 * this is out of range without a GET.
 */
export const ARCHIVE_CLOCK_SKEW_MS = 60 * 60 * 1000;

type Outcome =
  | { readonly kind: 'events'; readonly events: PollEvent[]; readonly bytes: number }
  | { readonly kind: 'out' }
  | { readonly kind: 'corrupt'; readonly error: ReplayError };

interface Task {
  readonly entry: ArchiveEntry;
  readonly outcome: Promise<Outcome>;
  settled: boolean;
}

export async function replay(deps: ReplayDependencies, options: ReplayOptions): Promise<ReplayResult> {
  const run = new ReplayRun(deps, options);
  return run.run();
}

class ReplayRun {
  private listed = 0;
  private messages = 0;
  private events = 0;
  private bytes = 0;
  private outOfRange = 0;
  private readonly corrupt: string[] = [];
  private lastKey: string | undefined;
  private checkpoint: string | undefined;
  private readonly marker: NonNullable<MessageArchivedDetail['replay']>;
  private batch: PollEvent[] = [];
  /** Messages and octets whose events are in `batch`: uncounted again if it fails. */
  private batchMessages = 0;
  private batchBytes = 0;
  /** The last key dealt with whose events are all in `batch` or published. */
  private batchEnd: string | undefined;

  constructor(
    private readonly deps: ReplayDependencies,
    private readonly options: ReplayOptions,
  ) {
    this.marker = { runId: options.runId, requestedAt: options.requestedAt.toISOString() };
    this.checkpoint = options.resumeAfter;
  }

  async run(): Promise<ReplayResult> {
    const { options } = this;
    if (!options.dryRun && !this.deps.sink) throw new Error('replay: a sink is required unless dryRun');
    const concurrency = Math.max(1, options.readConcurrency ?? 8);
    const window: Task[] = [];
    let entries: AsyncIterator<ArchiveEntry> | undefined;
    let listingDone = false;
    try {
      entries = this.entries()[Symbol.asyncIterator]();
      while (true) {
        while (!listingDone && window.length < concurrency && !this.stopped) {
          const next = await entries.next().catch((error: unknown) => {
            throw asReplayError(error, 'EARCHIVE', 'listing the archive failed');
          });
          if (next.done) listingDone = true;
          else window.push(this.start(next.value));
        }
        const task = window.shift();
        if (task === undefined || this.stopped) break;
        const outcome = await task.outcome;
        await this.deliver(task.entry, outcome, window[0]);
      }
      await this.flush();
      await this.save();
      if (!this.stopped) return this.result('complete');
      return this.result('stopped', new ReplayError('ESTOPPED', 'stopped before the end of the range'));
    } catch (error) {
      const failure = asReplayError(error, 'EARCHIVE', 'replay failed');
      // What was published before the failure stays published: checkpoint it.
      await this.save().catch(() => undefined);
      return this.result('failed', failure);
    } finally {
      // Reads already started finish (their spools are released) before the run returns.
      await Promise.allSettled(window.map((t) => t.outcome));
      await entries?.return?.().catch(() => undefined);
    }
  }

  private get stopped(): boolean {
    return this.options.stop?.aborted === true;
  }

  /** The range's entries, in replay order. */
  private async *entries(): AsyncGenerator<ArchiveEntry> {
    const { range } = this.options;
    const after = this.options.resumeAfter;
    const afterAccount = after?.slice(0, after.indexOf('/'));
    const requested =
      range.accounts.length > 0 ? [...new Set(range.accounts)] : await this.deps.reader.accounts();
    const accounts = requested.sort(byteOrder);
    for (const account of accounts) {
      if (afterAccount !== undefined && byteOrder(account, afterAccount) < 0) continue;
      const keyPrefix = prefixWithin(range, account);
      if (keyPrefix === null) continue;
      const listing = this.deps.reader.list(account, {
        ...(afterAccount === account ? { startAfter: after! } : {}),
        ...(keyPrefix !== undefined ? { keyPrefix } : {}),
      });
      for await (const entry of listing) {
        this.listed += 1;
        yield entry;
      }
    }
  }

  private start(entry: ArchiveEntry): Task {
    const task: Task = { entry, outcome: this.process(entry), settled: false };
    task.outcome.then(
      () => (task.settled = true),
      () => (task.settled = true),
    );
    return task;
  }

  /** Reads one object and makes its events; throws only when the archive cannot be read. */
  private async process(entry: ArchiveEntry): Promise<Outcome> {
    const { range } = this.options;
    if (entry.records !== undefined) {
      if (!entry.records.some((r) => inWindow(range, r.archivedAt))) return { kind: 'out' };
    } else if (
      range.since !== undefined &&
      entry.modifiedAt.getTime() < range.since.getTime() - ARCHIVE_CLOCK_SKEW_MS
    ) {
      return { kind: 'out' };
    }
    let spool: Spool | undefined;
    try {
      const opened = await this.deps.reader.open(entry);
      const records = distinct(entry.records ?? opened.records).filter((r) => inWindow(range, r.archivedAt));
      if (records.length === 0) {
        opened.discard();
        return { kind: 'out' };
      }
      spool = await Spool.fromStream(opened.body, {
        memoryLimitBytes: this.options.spoolMemoryLimitBytes ?? 8 * 1024 * 1024,
      });
      if (spool.sha256 !== entry.sha256) {
        const error = new ReplayError(
          'EINTEGRITY',
          `${entry.location}: the bytes (${spool.size} octets) hash to ${spool.sha256}, not to the ` +
            `${entry.sha256} its key names; skipped, left as it is`,
          { key: entry.key },
        );
        return { kind: 'corrupt', error };
      }
      const limits = this.options.metadataLimits ?? DEFAULT_METADATA_LIMITS;
      if (!matchesHeaders(range.headers, await spool.head(limits.headerMaxBytes))) return { kind: 'out' };
      const metadata = await readMetadata(spool, limits);
      const events = records.map((record) => {
        const event = messageArchivedEvent(
          {
            accountId: entry.accountId,
            uidl: record.uidl,
            sha256: entry.sha256,
            size: spool!.size,
            location: entry.location,
            key: entry.key,
            archivedAt: record.archivedAt,
            source: record.source,
          },
          metadata,
        );
        return { ...event, detail: { ...event.detail, replay: this.marker } } as PollEvent;
      });
      return { kind: 'events', events, bytes: spool.size };
    } catch (error) {
      throw asReplayError(error, 'EARCHIVE', `reading ${entry.location} failed`);
    } finally {
      await spool?.release().catch(() => undefined);
    }
  }

  /** Takes one object's outcome, in order: counts it, and emits its events. */
  private async deliver(entry: ArchiveEntry, outcome: Outcome, next: Task | undefined): Promise<void> {
    this.lastKey = entry.key;
    if (outcome.kind === 'out') this.outOfRange += 1;
    else if (outcome.kind === 'corrupt') {
      this.corrupt.push(entry.key);
      this.options.onCorrupt?.(outcome.error);
    } else {
      if (!this.options.dryRun) {
        const { rate } = this.deps;
        if (rate && !rate.tryTake(outcome.events.length)) {
          // Publish what was admitted before waiting for tokens, so that events leave at the rate
          // they were admitted, not in a burst after the wait.
          await this.flush();
          await rate.take(outcome.events.length, this.options.stop);
        }
        // Stopped while waiting for the rate: this object's events are not emitted.
        if (this.stopped) return;
        this.batch.push(...outcome.events);
        this.batchMessages += 1;
        this.batchBytes += outcome.bytes;
      }
      this.messages += 1;
      this.events += outcome.events.length;
      this.bytes += outcome.bytes;
    }
    this.batchEnd = entry.key;
    // Publish when the batch is full, or when the next object is not ready yet (no waiting with
    // events held back).
    const size = this.options.batchSize ?? 10;
    if (this.batch.length >= size || next === undefined || !next.settled) await this.flush();
    this.options.onProgress?.(this.progress());
  }

  private async flush(): Promise<void> {
    if (this.options.dryRun) {
      this.checkpoint = this.batchEnd ?? this.checkpoint;
      return;
    }
    const events = this.batch;
    if (events.length > 0) {
      const { batchMessages, batchBytes } = this;
      this.batch = [];
      this.batchMessages = 0;
      this.batchBytes = 0;
      const outcome = await this.deps.sink!.publish(events);
      if (outcome.failedIds.length > 0) {
        // The whole batch counts as not emitted: the checkpoint stays before it.
        this.events -= events.length;
        this.messages -= batchMessages;
        this.bytes -= batchBytes;
        throw new ReplayError(
          'EEVENTS',
          `${outcome.failedIds.length} of ${events.length} events could not be published (the first: ${outcome.failedIds[0]})`,
          // The sink's verdict when it gives one (an events file refused for permission will not
          // take them on a retry either), as in a poll.
          outcome.retryable !== undefined ? { retryable: outcome.retryable } : {},
        );
      }
    }
    const moved = this.batchEnd !== undefined && this.batchEnd !== this.checkpoint;
    this.checkpoint = this.batchEnd ?? this.checkpoint;
    if (moved && events.length > 0) await this.save();
  }

  private async save(): Promise<void> {
    if (this.options.dryRun || this.checkpoint === undefined || !this.deps.checkpoints) return;
    try {
      await this.deps.checkpoints.save(this.checkpoint);
    } catch (error) {
      throw asReplayError(error, 'ESTATE', 'saving the checkpoint failed');
    }
  }

  private progress(): ReplayProgress {
    return {
      listed: this.listed,
      messages: this.messages,
      events: this.events,
      bytes: this.bytes,
      outOfRange: this.outOfRange,
      corrupt: [...this.corrupt],
      key: this.lastKey,
    };
  }

  private result(status: ReplayResult['status'], error?: ReplayError): ReplayResult {
    return {
      ...this.progress(),
      status,
      checkpoint: this.checkpoint,
      ...(error ? { error } : {}),
    };
  }
}

/** Byte order of ASCII keys and ids (S3 lists keys in UTF-8 byte order). */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One record per UIDL: the first one wins (the same message announced again is one event). */
function distinct(records: readonly ArchiveRecord[]): ArchiveRecord[] {
  const seen = new Set<string | null>();
  return records.filter((r) => (seen.has(r.uidl) ? false : (seen.add(r.uidl), true)));
}
