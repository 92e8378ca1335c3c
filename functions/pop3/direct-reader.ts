import type { Socket } from 'node:net';

/** Large enough for any TLS record's plaintext (16 KiB, RFC 8446 §5.1). */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Reads a socket through the `onread` option of `tls.connect` / `net.connect` instead of its
 * 'data' events, and hands each chunk to one consumer, in order, with pause and resume.
 *
 * Performance: Dovecot sends 4 KiB TLS records, and Node raises one read per record (~5,000 for
 * 20 MB). Through 'data' each one also goes through the Readable stream (push, buffer bookkeeping,
 * an event emission); through `onread` it is one callback. Measured on 20 MB of 4 KiB writes over
 * loopback TLS (6 runs each): ~15 ms less CPU per 2,500 reads.
 *
 * What the 'data' path gave for free and this keeps:
 * - Chunks are the reader's own: the read buffer is reused, so each chunk is copied out of it (the
 *   same single copy Node makes for a 'data' chunk).
 * - Nothing is lost before a consumer is attached (the server's greeting can arrive with the end
 *   of the handshake) or while it is paused: TLS can deliver several records from one socket read
 *   after a pause, so chunks wait here, in order.
 * - No re-entry: a chunk is never delivered while the consumer is still handling the previous one,
 *   and `resume()` delivers from the next tick, as a Readable does.
 *
 * `tls.connect` honours `onread` only when it opens the connection itself (not for a socket it
 * upgrades, as after STLS), so sessions that upgrade read through 'data' events.
 */
export class DirectReader {
  readonly onread = {
    buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
    callback: (bytes: number, buffer: Uint8Array): boolean => this.receive(bytes, buffer),
  };
  private readonly waiting: Buffer[] = [];
  private socket: Socket | undefined;
  private consumer: ((chunk: Buffer) => void) | undefined;
  private held = false;
  private delivering = false;

  /** Starts delivering `socket`'s reads (and those already waiting) to `consumer`. */
  start(socket: Socket, consumer: (chunk: Buffer) => void): void {
    this.socket = socket;
    this.consumer = consumer;
    this.deliver();
    // A socket with `onread` still needs flowing mode to start reading and to emit 'end'.
    if (!this.held) socket.resume();
  }

  /** Stops delivering; what arrives afterwards waits (and is dropped with the reader). */
  stop(): void {
    this.consumer = undefined;
  }

  pause(): void {
    this.held = true;
    this.socket?.pause();
  }

  resume(): void {
    this.held = false;
    process.nextTick(() => {
      this.deliver();
      if (!this.held) this.socket?.resume();
    });
  }

  /** Returns false to stop reading from the socket while chunks cannot be delivered. */
  private receive(bytes: number, buffer: Uint8Array): boolean {
    const chunk = Buffer.allocUnsafe(bytes);
    chunk.set(buffer.subarray(0, bytes));
    this.waiting.push(chunk);
    this.deliver();
    return this.consumer !== undefined && !this.held;
  }

  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.consumer && !this.held && this.waiting.length > 0) this.consumer(this.waiting.shift()!);
    } finally {
      this.delivering = false;
    }
  }
}
