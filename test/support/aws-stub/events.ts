import { randomUUID } from 'node:crypto';
import { check, type Wire } from './http';

/** EventBridge PutEvents (JSON 1.1, `AWSEvents.PutEvents`): entries stored in order. */

export interface StoredEvent {
  readonly eventId: string;
  readonly eventBusName: string;
  readonly source: string;
  readonly detailType: string;
  readonly detail: string;
  readonly time: number | undefined;
  readonly resources: readonly string[] | undefined;
}

interface EntryFault {
  readonly match: (entry: Wire, index: number) => boolean;
  readonly errorCode: string;
  times: number;
}

const MAX_REQUEST_BYTES = 256 * 1024;

/** Size as PutEvents counts it against 256 KB. */
function entrySize(entry: Wire): number {
  let size = entry.Time !== undefined ? 14 : 0;
  for (const part of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (typeof part === 'string') size += Buffer.byteLength(part, 'utf8');
  }
  return size;
}

export class EventsStub {
  private stored: StoredEvent[] = [];
  private faults: EntryFault[] = [];

  entries(eventBusName?: string): StoredEvent[] {
    return this.stored.filter((e) => eventBusName === undefined || e.eventBusName === eventBusName);
  }
  /** Entries matching `match` are answered with `errorCode` (FailedEntryCount) the next `times` times. */
  failEntries(
    match: (entry: { Source?: string; DetailType?: string; Detail?: string }, index: number) => boolean,
    errorCode = 'InternalFailure',
    times = 1,
  ): void {
    this.faults.push({ match, errorCode, times });
  }
  reset(): void {
    this.stored = [];
    this.faults = [];
  }

  readonly operations: Readonly<Record<string, (input: Wire) => unknown>> = {
    PutEvents: (input) => {
      const entries: Wire[] = input.Entries ?? [];
      check(entries.length >= 1 && entries.length <= 10, 'Entries must hold 1 to 10 entries');
      const total = entries.reduce((n, e) => n + entrySize(e), 0);
      check(total < MAX_REQUEST_BYTES, `Total size of the entries in the request is over the limit.`);
      let failed = 0;
      const results = entries.map((entry, index) => {
        const fail = (ErrorCode: string, ErrorMessage: string): object => {
          failed++;
          return { ErrorCode, ErrorMessage };
        };
        const fault = this.faults.find((f) => f.times > 0 && f.match(entry, index));
        if (fault) {
          fault.times--;
          return fail(fault.errorCode, 'failed by the stub');
        }
        if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
          return fail('InvalidArgument', 'Parameters Source, DetailType and Detail are required');
        }
        try {
          const detail = JSON.parse(entry.Detail);
          if (detail === null || typeof detail !== 'object' || Array.isArray(detail))
            throw new Error('not an object');
        } catch {
          return fail('MalformedDetail', 'Detail is malformed.');
        }
        const eventId = randomUUID();
        this.stored.push({
          eventId,
          eventBusName: entry.EventBusName ?? 'default',
          source: entry.Source,
          detailType: entry.DetailType,
          detail: entry.Detail,
          time: entry.Time,
          resources: entry.Resources,
        });
        return { EventId: eventId };
      });
      return { FailedEntryCount: failed, Entries: results };
    },
  };
}
