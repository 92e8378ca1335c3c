import { Readable } from 'node:stream';

/**
 * The bytes of one retrieved message, as a Readable of Buffers. The session feeds it straight from
 * the socket; when the consumer stops reading, the session stops reading the socket, so a large
 * message is never held whole in memory.
 *
 * If the consumer destroys the stream early, the session still reads (and discards) the rest of the
 * reply so that the replies after it stay in step.
 */
export class MessageStream extends Readable {
  /** Octets delivered so far (after dot-unstuffing). */
  bytesReceived = 0;

  constructor(
    /** The message number the stream belongs to. */
    readonly messageNumber: number,
    private readonly onDemand: () => void,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
    // The session destroys a stream with an error (connection lost, ELIMIT) whenever it happens,
    // often before the consumer has attached a listener: a pipelined RETR's stream waits unread
    // while earlier ones are consumed, and the RETR promise resolves only after the same read that
    // overflowed. Readable would then throw the error as an uncaught exception and end the process.
    // The error is not lost: it stays in `errored`, and for-await, `pipeline()` and `toBuffer()`
    // reject with it; other 'error' listeners still receive it.
    this.on('error', () => {});
  }

  override _read(): void {
    this.onDemand();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.onDemand();
    callback(error);
  }

  /** Called by the session; returns false when the consumer wants no more for now. */
  deliver(chunk: Buffer): boolean {
    if (this.destroyed) return true;
    this.bytesReceived += chunk.length;
    return this.push(chunk);
  }

  /** Reads the whole stream into one Buffer (for small messages and tests). */
  async toBuffer(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }
}
