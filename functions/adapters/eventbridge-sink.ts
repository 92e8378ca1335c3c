import {
  PutEventsCommand,
  type EventBridgeClient,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import type { PollEvent } from '../poller/events';
import type { EventSink, PublishOutcome } from '../poller/ports';
import { sendWithEntryRetries, type EntryFailure } from './entry-retry';
import { sleep } from './sdk-errors';

/**
 * Publishes poll events to an EventBridge bus.
 *
 * Batching: PutEvents takes at most 10 entries per request, whose total size "must be less than
 * 256KB", counted as AWS documents it ("Calculating PutEvents event entry size"): the UTF-8 bytes
 * of Source, DetailType, Detail and each Resource, plus 14 bytes when Time is set. Events are
 * packed in order, greedily, each request staying strictly below the limit.
 *
 * Failures: a request can succeed with some entries failed (`FailedEntryCount`, an `ErrorCode` per
 * entry). Entries that failed for a reason that can clear (throttling, internal failure, or a code
 * not known to be permanent) are sent again, with exponential backoff, up to `maxAttempts` in all;
 * a request that fails as a whole was already retried by the SDK client and is not sent again
 * here (the one retry policy, entry-retry.ts). Whatever
 * still failed is returned in `failedIds` (the poller's event ids), never thrown: the workflow
 * then keeps those messages on the server. Only a malformed event (a `time` that is not a date)
 * throws, since that is a bug rather than an outage.
 *
 * Oversized events: an event that alone exceeds the limit is shrunk rather than refused, by
 * dropping what a consumer can recover from the archived message itself, in this order:
 * `attachments` (→ null), `cc` and `to` (→ []), `subject`, `from` and `messageId` (→ null), and
 * `metadataError` / `errorMessage` (cut to 1,000 characters). The detail then carries
 * `truncated: [<fields changed>]`. An event still too large after that is reported failed.
 */

/** PutEvents' limits. */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;
const TIME_ENTRY_BYTES = 14;

/** Entry error codes that will not clear by sending the same entry again (PutEventsResultEntry docs). */
const PERMANENT_ENTRY_ERRORS = new Set([
  'AccessDeniedException',
  'InvalidAccountIdException',
  'InvalidArgument',
  'MalformedDetail',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
]);

const MAX_KEPT_CHARS = 1000;
type Reduction = (value: unknown) => unknown;
const REDUCTIONS: ReadonlyArray<readonly [string, Reduction]> = [
  ['attachments', () => null],
  ['cc', () => []],
  ['to', () => []],
  ['subject', () => null],
  ['from', () => null],
  ['messageId', () => null],
  ['metadataError', (v) => (typeof v === 'string' ? v.slice(0, MAX_KEPT_CHARS) : v)],
  ['errorMessage', (v) => (typeof v === 'string' ? v.slice(0, MAX_KEPT_CHARS) : v)],
];

export interface PublishFailure {
  /** Poller event ids that were not published. */
  readonly ids: readonly string[];
  /** The entry's `ErrorCode`, the SDK error's name, or `EventTooLarge`. */
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface EventBridgeSinkOptions {
  /** Name or ARN of the event bus. */
  readonly eventBusName: string;
  /**
   * Sends of an entry that failed inside a successful response, counting the first. A request
   * that fails as a whole is retried by the SDK client only (entry-retry.ts). @default 3
   */
  readonly maxAttempts?: number;
  /** First delay between attempts; doubles each time. @default 100 */
  readonly retryBaseDelayMs?: number;
  /** Requests (and so single events) stay strictly below this size. @default 256 KiB */
  readonly maxRequestBytes?: number;
  /** Told about events that finally failed, so the caller can log why (no payloads included). */
  readonly onFailure?: (failure: PublishFailure) => void;
  /** For tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Prepared {
  readonly id: string;
  readonly entry: PutEventsRequestEntry;
  readonly size: number;
}

export class EventBridgeSink implements EventSink {
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRequestBytes: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly options: EventBridgeSinkOptions,
  ) {
    if (!options.eventBusName) throw new Error('EventBridgeSink: eventBusName is required');
    this.maxAttempts = options.maxAttempts ?? 3;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    this.sleep = options.sleep ?? sleep;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new Error('EventBridgeSink: maxAttempts must be a positive integer');
    }
  }

  async publish(events: readonly PollEvent[]): Promise<PublishOutcome> {
    const failedIds: string[] = [];
    const prepared: Prepared[] = [];
    for (const event of events) {
      const entry = this.prepare(event);
      if (entry) prepared.push(entry);
      else {
        failedIds.push(event.id);
        this.report(
          [event.id],
          'EventTooLarge',
          `event is not below ${this.maxRequestBytes} bytes even when shrunk`,
        );
      }
    }
    for (const batch of this.batches(prepared)) failedIds.push(...(await this.sendBatch(batch)));
    return { failedIds };
  }

  /** The entry for an event, shrunk to fit when needed; undefined when it cannot be made to fit. */
  private prepare(event: PollEvent): Prepared | undefined {
    const time = new Date(event.time);
    if (Number.isNaN(time.getTime())) throw new TypeError(`event ${event.id} has an invalid time`);
    let detail = event.detail as unknown as Record<string, unknown>;
    let prepared = this.entry(event, time, detail);
    const truncated: string[] = [];
    for (const [field, reduce] of REDUCTIONS) {
      if (prepared.size < this.maxRequestBytes) return prepared;
      if (!(field in detail)) continue;
      const reduced = reduce(detail[field]);
      if (JSON.stringify(reduced) === JSON.stringify(detail[field])) continue;
      truncated.push(field);
      detail = { ...detail, [field]: reduced, truncated: [...truncated] };
      prepared = this.entry(event, time, detail);
    }
    return prepared.size < this.maxRequestBytes ? prepared : undefined;
  }

  private entry(event: PollEvent, time: Date, detail: unknown): Prepared {
    const entry: PutEventsRequestEntry = {
      EventBusName: this.options.eventBusName,
      Source: event.source,
      DetailType: event.detailType,
      Detail: JSON.stringify(detail),
      Time: time,
    };
    return { id: event.id, entry, size: entrySize(entry) };
  }

  private *batches(prepared: readonly Prepared[]): Generator<Prepared[]> {
    let batch: Prepared[] = [];
    let bytes = 0;
    for (const p of prepared) {
      if (batch.length > 0 && (batch.length === MAX_ENTRIES || bytes + p.size >= this.maxRequestBytes)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(p);
      bytes += p.size;
    }
    if (batch.length > 0) yield batch;
  }

  /** Sends one batch, re-sending what failed transiently; returns the ids that finally failed. */
  private async sendBatch(batch: readonly Prepared[]): Promise<string[]> {
    const failed = await sendWithEntryRetries(
      batch,
      async (pending) => {
        const output = await this.client.send(new PutEventsCommand({ Entries: pending.map((p) => p.entry) }));
        const failures = new Map<Prepared, EntryFailure>();
        pending.forEach((prepared, i) => {
          const result: PutEventsResultEntry | undefined = output.Entries?.[i];
          if (result?.EventId && !result.ErrorCode) return;
          // A missing result says nothing about the entry: sending it again at worst duplicates
          // it, and consumers deduplicate on the detail's eventId.
          const code = result?.ErrorCode ?? 'MissingResult';
          failures.set(prepared, {
            code,
            message: result?.ErrorMessage ?? 'no result for this entry',
            permanent: PERMANENT_ENTRY_ERRORS.has(code),
          });
        });
        return failures;
      },
      { maxRounds: this.maxAttempts, baseDelayMs: this.retryBaseDelayMs, sleep: this.sleep },
    );
    for (const { entry, failure } of failed) this.report([entry.id], failure.code, failure.message);
    return failed.map((f) => f.entry.id);
  }

  private report(ids: readonly string[], errorCode: string, errorMessage: string): void {
    this.options.onFailure?.({ ids, errorCode, errorMessage });
  }
}

/** An entry's size as PutEvents counts it against the 256 KB limit. */
export function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time !== undefined ? TIME_ENTRY_BYTES : 0;
  for (const part of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (part !== undefined) size += Buffer.byteLength(part, 'utf8');
  }
  return size;
}
