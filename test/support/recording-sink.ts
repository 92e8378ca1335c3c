import type { AfterStatus, DecoderSink, StatusLine } from '../../functions/pop3/reply-decoder';

/**
 * What the command waiting for a reply expects, as the client's reply handlers decide it:
 * - `multi`: a multi-line command (LIST, UIDL, RETR, TOP, CAPA); a body follows `+OK`, not `-ERR`.
 * - `single`: a single-line command; nothing follows the status line.
 * - `halt`: STLS; the decoder must stop and hold whatever comes next.
 */
export type Expectation = 'multi' | 'single' | 'halt';

/** One decoder callback, with body bytes as a latin1 string (one char per octet, easy to diff). */
export type DecoderEvent =
  | { readonly type: 'status'; readonly line: StatusLine }
  | { readonly type: 'data'; readonly bytes: string }
  | { readonly type: 'overflow'; readonly limit: number }
  | { readonly type: 'end' };

export interface RecordedReply {
  readonly status: StatusLine;
  /** Body bytes delivered, concatenated; undefined when the status line was not followed by one. */
  body: Buffer | undefined;
  /** Limits reported through `overflow`, in order (a correct decoder reports at most one). */
  readonly overflows: number[];
  /** Times `end` was called for this reply. */
  ends: number;
}

/**
 * A `DecoderSink` that plays the client's part from a script and records everything it is told.
 *
 * `data` chunks are copied (the decoder hands out views of its input) and consecutive ones are
 * merged, so a recording does not depend on how the input was chunked: two recordings of the same
 * byte stream must be equal whatever the split points.
 *
 * Callbacks that make no sense in the current state (data with no body open, a status line the
 * script did not expect) are recorded in `violations` rather than thrown, so that a test sees
 * them next to the rest of the recording.
 */
export class RecordingSink implements DecoderSink {
  readonly replies: RecordedReply[] = [];
  readonly violations: string[] = [];
  private readonly dataParts: Buffer[][] = [];
  private readonly rawEvents: Array<
    | { type: 'status'; line: StatusLine }
    | { type: 'data'; parts: Buffer[] }
    | { type: 'overflow'; limit: number }
    | { type: 'end' }
  > = [];
  private bodyOpen = false;
  private overflowed = false;

  constructor(private readonly script: readonly Expectation[]) {}

  status(line: StatusLine): AfterStatus {
    if (this.bodyOpen) this.violations.push(`status line while a body is open: ${line.kind} ${line.text}`);
    const index = this.replies.length;
    const expectation = this.script[index];
    if (expectation === undefined) this.violations.push(`unscripted status line #${index}`);
    this.replies.push({ status: line, body: undefined, overflows: [], ends: 0 });
    this.dataParts.push([]);
    this.rawEvents.push({ type: 'status', line });
    const after: AfterStatus =
      expectation === 'halt' ? 'halt' : expectation === 'multi' && line.kind === 'ok' ? 'body' : 'done';
    this.bodyOpen = after === 'body';
    this.overflowed = false;
    if (this.bodyOpen) this.current().body = Buffer.alloc(0);
    return after;
  }

  data(chunk: Buffer): void {
    if (!this.bodyOpen) this.violations.push('data with no body open');
    if (this.overflowed) this.violations.push('data after overflow');
    if (chunk.length === 0) this.violations.push('empty data chunk');
    const copy = Buffer.from(chunk);
    this.dataParts[this.replies.length - 1]?.push(copy);
    const last = this.rawEvents[this.rawEvents.length - 1];
    if (last?.type === 'data') last.parts.push(copy);
    else this.rawEvents.push({ type: 'data', parts: [copy] });
  }

  overflow(limit: number): void {
    if (!this.bodyOpen) this.violations.push('overflow with no body open');
    this.overflowed = true;
    this.current().overflows.push(limit);
    this.rawEvents.push({ type: 'overflow', limit });
  }

  end(): void {
    if (!this.bodyOpen) this.violations.push('end with no body open');
    this.bodyOpen = false;
    this.current().ends += 1;
    this.rawEvents.push({ type: 'end' });
  }

  /** Every callback in order, consecutive data merged. */
  get events(): DecoderEvent[] {
    return this.rawEvents.map((event) =>
      event.type === 'data' ? { type: 'data', bytes: Buffer.concat(event.parts).toString('latin1') } : event,
    );
  }

  /** Replies with their bodies concatenated. */
  get recorded(): RecordedReply[] {
    return this.replies.map((reply, i) => ({
      ...reply,
      body: reply.body === undefined ? undefined : Buffer.concat(this.dataParts[i] ?? []),
    }));
  }

  private current(): RecordedReply {
    const reply = this.replies[this.replies.length - 1];
    if (!reply) throw new Error('decoder called the sink before any status line');
    return reply;
  }
}
