import { PollError } from './errors';
import type { PollEvent } from './events';
import type { EventSink } from './ports';

/**
 * Groups events from messages archived close together into one `publish` call (EventBridge takes
 * up to 10 entries per request), and tells each message whether its own event went out: a message
 * is deleted only once its event is published.
 */
export class EventBatcher {
  private pending: Array<{ event: PollEvent; resolve: () => void; reject: (e: Error) => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly maxBatch = 10,
    private readonly lingerMs = 10,
  ) {}

  publish(event: PollEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    // Through a promise even if the sink throws synchronously: a throw here would escape the timer
    // and leave these messages waiting forever.
    Promise.resolve()
      .then(() => this.sink.publish(batch.map((p) => p.event)))
      .then(
        ({ failedIds }) => {
          const failed = new Set(failedIds);
          for (const p of batch) {
            if (failed.has(p.event.id))
              p.reject(new PollError('EEVENTS', `event ${p.event.id} was not published`));
            else p.resolve();
          }
        },
        (cause: unknown) => {
          const error = new PollError(
            'EEVENTS',
            `publishing events failed: ${(cause as Error)?.message ?? cause}`,
            { cause },
          );
          for (const p of batch) p.reject(error);
        },
      );
  }
}
