import { Pop3Error } from './errors';

/**
 * POP3 reply decoder. It does no I/O: bytes go in through `push`, however the network chunked
 * them, and complete reply parts come out through a `DecoderSink`.
 *
 * A reply is a status line (RFC 1939 §3: `+OK`, `-ERR`; RFC 5034 §4: `+ ` for a SASL challenge),
 * optionally followed by a multi-line body ended by `CRLF.CRLF`. Only the command knows whether
 * its reply has a body, so the sink decides, status line by status line.
 *
 * Body bytes are delivered as Buffers, never strings, dot-unstuffed (RFC 1939 §3: a line that
 * starts with `.` has that first octet removed unless the line is the terminator). The terminator
 * and the CRLF that precedes it belong to the framing, except that this CRLF also ends the last
 * line of the body, so the body keeps it: a message's bytes are exactly what the server stored.
 */

export type StatusKind = 'ok' | 'err' | 'continuation';

export interface StatusLine {
  readonly kind: StatusKind;
  /** The text after `+OK`, `-ERR` or `+`, without the separating space. */
  readonly text: string;
  /** RFC 2449 §8 response code in square brackets, upper-cased, e.g. `SYS/TEMP`. */
  readonly code?: string;
}

/** What follows a status line, as decided by the command waiting for it. */
export type AfterStatus =
  /** A multi-line body follows. */
  | 'body'
  /** Nothing follows; the next bytes start the next reply. */
  | 'done'
  /** Stop decoding and hold any further bytes (used for STLS, RFC 2595 §3.1 injection guard). */
  | 'halt';

export interface DecoderSink {
  status(line: StatusLine): AfterStatus;
  /** A run of body bytes, already unstuffed. The buffer may be a view of the input chunk. */
  data(chunk: Buffer): void;
  /** The body exceeded `maxBodyBytes`; no more `data` comes for this reply, `end` still does. */
  overflow(limit: number): void;
  /** The terminating `.CRLF` was read. */
  end(): void;
}

export interface DecoderLimits {
  /** Longest status line accepted, CRLF included. RFC 2449 §4 caps it at 512 octets. */
  readonly maxLineLength: number;
  /** Largest multi-line body delivered; beyond it the rest is discarded up to the terminator. */
  readonly maxBodyBytes: number;
  /**
   * Most octets discarded after `maxBodyBytes`, waiting for the terminator so that the replies
   * after it stay in step. A body that has not ended by then is taken never to end (a hostile
   * server streaming forever): ELIMIT, which closes the session. (Memory is not the issue: nothing
   * is held here; time is.)
   */
  readonly maxDiscardBytes: number;
}

export const DEFAULT_DECODER_LIMITS: DecoderLimits = {
  maxLineLength: 512,
  maxBodyBytes: 512 * 1024 * 1024,
  maxDiscardBytes: 512 * 1024 * 1024,
};

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CR_ONLY = Buffer.from([CR]);
const LF_DOT = Buffer.from([LF, DOT]);

/** Where the body scanner stands. */
const enum Body {
  /** At the first octet of a line. */
  LineStart,
  /** Saw `.` at the start of a line. */
  Dot,
  /** Saw `.` CR at the start of a line. */
  DotCr,
  /** Inside a line. */
  Mid,
}

export class ReplyDecoder {
  private readonly limits: DecoderLimits;
  private inBody = false;
  private body: Body = Body.LineStart;
  private bodyBytes = 0;
  private overflowed = false;
  /** Body octets discarded after the overflow. */
  private discarded = 0;
  private halted = false;
  private held: Buffer[] = [];
  /** Bytes of a status line whose LF has not arrived yet. */
  private partialLine: Buffer[] = [];
  private partialLineLength = 0;

  constructor(
    private readonly sink: DecoderSink,
    limits: Partial<DecoderLimits> = {},
    /**
     * Applied to server text before it goes into an error message: the client removes its secrets,
     * which a hostile or broken server may echo back in a line that is not even a status line
     * (found by the fuzz suite, test/fuzz: `PASS <password>` echoed as a reply line reached the
     * EPROTOCOL message). Applied before shortening, so no prefix of a secret survives either.
     */
    private readonly scrub: (text: string) => string = (text) => text,
  ) {
    this.limits = { ...DEFAULT_DECODER_LIMITS, ...limits };
  }

  /** True while a multi-line body is being read. */
  get readingBody(): boolean {
    return this.inBody;
  }

  /** True when bytes have been received that are not yet a complete reply part. */
  get hasPartialInput(): boolean {
    return this.partialLineLength > 0 || this.inBody || this.held.length > 0;
  }

  push(chunk: Buffer): void {
    if (this.halted) {
      this.held.push(chunk);
      return;
    }
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inBody) {
        pos = this.scanBody(chunk, pos);
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        this.appendPartialLine(chunk.subarray(pos));
        return;
      }
      const line = this.takeLine(chunk.subarray(pos, lf + 1));
      pos = lf + 1;
      const after = this.sink.status(parseStatusLine(line, this.scrub));
      if (after === 'body') {
        this.inBody = true;
        this.body = Body.LineStart;
        this.bodyBytes = 0;
        this.overflowed = false;
        this.discarded = 0;
      } else if (after === 'halt') {
        this.halted = true;
        if (pos < chunk.length) this.held.push(chunk.subarray(pos));
        return;
      }
    }
  }

  /** Resumes decoding after a halt and returns the bytes that arrived meanwhile. */
  resume(): Buffer {
    this.halted = false;
    const held = Buffer.concat(this.held);
    this.held = [];
    return held;
  }

  private appendPartialLine(part: Buffer): void {
    this.partialLineLength += part.length;
    if (this.partialLineLength > this.limits.maxLineLength) {
      throw new Pop3Error(
        'ELIMIT',
        `server status line exceeds ${this.limits.maxLineLength} octets without a line ending`,
      );
    }
    this.partialLine.push(part);
  }

  private takeLine(tail: Buffer): Buffer {
    const length = this.partialLineLength + tail.length;
    if (length > this.limits.maxLineLength) {
      throw new Pop3Error(
        'ELIMIT',
        `server status line of ${length} octets exceeds ${this.limits.maxLineLength}`,
      );
    }
    if (this.partialLine.length === 0) return tail;
    this.partialLine.push(tail);
    const line = Buffer.concat(this.partialLine, length);
    this.partialLine = [];
    this.partialLineLength = 0;
    return line;
  }

  /**
   * Scans body bytes from `pos`, delivering unstuffed runs, and returns where it stopped: at the
   * end of the chunk or just after the terminator. Runs are sliced from the input without copying;
   * a run is broken only where a stuffing dot is removed.
   */
  private scanBody(chunk: Buffer, pos: number): number {
    let runStart = pos;
    const end = chunk.length;
    while (pos < end) {
      switch (this.body) {
        case Body.Mid: {
          // Only a line that starts with a dot needs attention, so jump straight to the next LF
          // followed by a dot instead of visiting every line (one native search per chunk instead
          // of one per line: the decoder's main cost on large bodies). Where no such pair is left
          // in the chunk, the next chunk starts a line exactly when this one ends with LF.
          const lfDot = chunk.indexOf(LF_DOT, pos);
          if (lfDot === -1) {
            if (chunk[end - 1] === LF) this.body = Body.LineStart;
            pos = end;
          } else {
            pos = lfDot + 1;
            this.body = Body.LineStart;
          }
          break;
        }
        case Body.LineStart:
          if (chunk[pos] === DOT) {
            this.emit(chunk, runStart, pos);
            pos += 1;
            runStart = pos;
            this.body = Body.Dot;
          } else {
            this.body = Body.Mid;
          }
          break;
        case Body.Dot: {
          const octet = chunk[pos];
          if (octet === CR) {
            pos += 1;
            runStart = pos;
            this.body = Body.DotCr;
          } else if (octet === LF) {
            // `.LF`: a bare-LF terminator. Not RFC 1939, but some servers send it, and a body line
            // that is a lone dot would have been stuffed, so it can only mean the end.
            return this.finishBody(pos + 1);
          } else {
            // A stuffed line: the dot is dropped and the rest of the line is data.
            runStart = pos;
            this.body = Body.Mid;
          }
          break;
        }
        case Body.DotCr:
          if (chunk[pos] === LF) return this.finishBody(pos + 1);
          // `.CR` followed by something else: the dot was stuffing, the CR is data.
          this.emit(CR_ONLY, 0, 1);
          runStart = pos;
          this.body = Body.Mid;
          break;
      }
    }
    this.emit(chunk, runStart, end);
    return end;
  }

  private emit(chunk: Buffer, start: number, end: number): void {
    if (end <= start) return;
    if (this.overflowed) {
      // Found by the fuzz suite (test/fuzz): a reply that never ends was read and discarded for as
      // long as the server kept sending, however long that was.
      this.discarded += end - start;
      if (this.discarded > this.limits.maxDiscardBytes) throw this.neverEnding();
      return;
    }
    const length = end - start;
    if (this.bodyBytes + length > this.limits.maxBodyBytes) {
      // Deliver the part of the run that still fits before reporting the overflow, so the sink
      // always receives exactly the first `maxBodyBytes` octets. Dropping the whole run made the
      // delivered prefix depend on where the network happened to split the stream.
      const room = this.limits.maxBodyBytes - this.bodyBytes;
      if (room > 0) {
        this.bodyBytes += room;
        this.sink.data(chunk.subarray(start, start + room));
      }
      this.overflowed = true;
      this.discarded = length - Math.max(0, room);
      this.sink.overflow(this.limits.maxBodyBytes);
      if (this.discarded > this.limits.maxDiscardBytes) throw this.neverEnding();
      return;
    }
    this.bodyBytes += length;
    this.sink.data(chunk.subarray(start, end));
  }

  private neverEnding(): Pop3Error {
    const total = this.limits.maxBodyBytes + this.limits.maxDiscardBytes;
    return new Pop3Error(
      'ELIMIT',
      `multi-line reply has not ended after ${total} octets; taken as never ending`,
    );
  }

  private finishBody(pos: number): number {
    this.inBody = false;
    this.body = Body.LineStart;
    this.sink.end();
    return pos;
  }
}

const STATUS_PATTERN = /^(\+OK|-ERR|\+)(?: (.*))?$/i;
const RESP_CODE_PATTERN = /^\[([^\]\s]+)\]\s*/;

/**
 * Parses one status line (with or without its line ending). `scrub` is applied to the line before
 * it is quoted in an error (see ReplyDecoder).
 */
export function parseStatusLine(raw: Buffer, scrub: (text: string) => string = (text) => text): StatusLine {
  let end = raw.length;
  if (end > 0 && raw[end - 1] === LF) end -= 1;
  if (end > 0 && raw[end - 1] === CR) end -= 1;
  // Status lines are ASCII by RFC 1939 and UTF-8 after RFC 6856 UTF8; they never carry message
  // bytes, so decoding them as text is safe.
  const line = raw.toString('utf8', 0, end);
  const match = STATUS_PATTERN.exec(line);
  if (!match) {
    // Some servers omit the space: `+OKgreeting`. Be lenient on `+OK`/`-ERR` prefixes only.
    const upper = line.toUpperCase();
    if (upper.startsWith('+OK')) return withCode('ok', line.slice(3).trimStart());
    if (upper.startsWith('-ERR')) return withCode('err', line.slice(4).trimStart());
    throw new Pop3Error('EPROTOCOL', `malformed server status line: ${printable(scrub(line))}`);
  }
  const head = match[1]!.toUpperCase();
  const text = match[2] ?? '';
  if (head === '+OK') return withCode('ok', text);
  if (head === '-ERR') return withCode('err', text);
  return { kind: 'continuation', text };
}

function withCode(kind: StatusKind, text: string): StatusLine {
  const code = RESP_CODE_PATTERN.exec(text);
  if (!code) return { kind, text };
  return { kind, text: text.slice(code[0].length), code: code[1]!.toUpperCase() };
}

/** Shortens and escapes server text for an error message. */
export function printable(text: string, max = 120): string {
  const clean = text.replace(
    // eslint-disable-next-line no-control-regex
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
