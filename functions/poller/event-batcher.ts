import { PollError } from './errors';
import type { PollEvent } from './events';
import type { EventSink } from './ports';

/**
 * Groups events from messages archived close together into one `publish` call (EventBridge takes
 * up to 10 entries per request), and tells each message whether its own event went out: a message
 * is deleted only once its event is published.
 *
 * No lingering: events published in the same turn of the event loop go out together at once,
 * while fewer than `maxInFlight` calls are outstanding; otherwise they wait for a call to finish
 * and then go out together (up to `maxBatch` per call). Under load, batches form by themselves
 * while earlier calls are in flight (group commit), and a lone event costs no added latency.
 * (Performance: the former fixed 10 ms linger made every batch wait 10 ms, since no more than
 * `storeConcurrency` events are ever pending at once — 2.5 s of idle time in a 1000-message drain.)
 */
export class EventBatcher {
  private pending: Array<{ event: PollEvent; resolve: () => void; reject: (e: Error) => void }> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly sink: EventSink,
    private readonly maxBatch = 10,
    private readonly maxInFlight = 4,
  ) {}

  publish(event: PollEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the current I/O callbacks, so that events completed together share a call.
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.send(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async send(batch: EventBatcher['pending']): Promise<void> {
    try {
      // Called inside the try even if the sink throws synchronously: a throw must not leave these
      // messages waiting forever.
      const { failedIds, retryable } = await this.sink.publish(batch.map((p) => p.event));
      const failed = new Set(failedIds);
      // The sink's verdict, as for the archive's (message-archiver.ts): EEVENTS is retryable unless
      // the sink says a retry cannot help.
      const verdict = retryable === false ? { retryable: false } : {};
      for (const p of batch) {
        if (failed.has(p.event.id))
          p.reject(new PollError('EEVENTS', `event ${p.event.id} was not published`, verdict));
        else p.resolve();
      }
    } catch (cause) {
      const known = cause as { retryable?: unknown } | undefined;
      const error = new PollError(
        'EEVENTS',
        `publishing events failed: ${(cause as Error)?.message ?? cause}`,
        {
          cause,
          ...(typeof known?.retryable === 'boolean' ? { retryable: known.retryable } : {}),
        },
      );
      for (const p of batch) p.reject(error);
    }
  }
}
