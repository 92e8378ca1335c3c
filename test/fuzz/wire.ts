import fc from 'fast-check';
import { Pop3Error } from '../../functions/pop3/errors';
import { parseStatusLine, type DecoderLimits } from '../../functions/pop3/reply-decoder';
import type { DecoderEvent, Expectation } from '../support/recording-sink';

/**
 * Server replies for the fuzz suite: well-formed ones with their meaning (the model), mutations
 * of their bytes a hostile or broken server produces, and a reference decoder, written line by
 * line from RFC 1939 §3 independently of functions/pop3/reply-decoder.ts, that says what any
 * byte stream means. The decoder must agree with it for every stream and every chunking.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

export const bytes = (...parts: Array<string | Buffer | readonly number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** RFC 1939 §3 as a server applies it: a dot before every line starting with a dot, then `.CRLF`. */
export function stuff(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length * 2 + 5);
  let n = 0;
  let lineStart = true;
  for (const octet of body) {
    if (lineStart && octet === DOT) out[n++] = DOT;
    out[n++] = octet;
    lineStart = octet === LF;
  }
  // A body whose last line lacks its line ending gets one: the terminator must start a line.
  if (!lineStart) n += out.write('\r\n', n, 'latin1');
  n += out.write('.\r\n', n, 'latin1');
  return out.subarray(0, n);
}

// -------------------------------------------------------------------------------------------------
// The reference decoder

export interface ReferenceResult {
  readonly events: DecoderEvent[];
  /** The code of the error decoding stops at, if it does. */
  readonly error?: string;
  /** With a `halt` expectation: every byte after the halting status line. */
  readonly held?: Buffer;
}

/**
 * What a stream of server bytes means, given what each command expects, as `DecoderEvent`s.
 * Framing by lines (a line ends at LF; RFC 1939 says CRLF, and a bare LF is taken as a line end
 * as the client does): a status line longer than `maxLineLength` with its LF (or without one, once
 * the bytes so far exceed it) is ELIMIT; an unparseable one is EPROTOCOL. A body line `.` (with CR
 * or not) before its LF ends the body; any other line starting with `.` loses that dot. Bytes of a
 * body past `maxBodyBytes` are dropped after one overflow event.
 */
export function referenceDecode(
  wire: Buffer,
  script: readonly Expectation[],
  limits: DecoderLimits,
): ReferenceResult {
  const events: DecoderEvent[] = [];
  let pos = 0;
  let reply = 0;
  let data: Buffer[] = [];
  let dataBytes = 0;
  let overflowed = false;
  let discarded = 0;
  let endless = false;
  const flushData = () => {
    if (data.length > 0) events.push({ type: 'data', bytes: Buffer.concat(data).toString('latin1') });
    data = [];
  };
  const give = (line: Buffer) => {
    if (line.length === 0) return;
    if (overflowed) {
      // Discarded; more than maxDiscardBytes of it without an end: the reply never ends.
      discarded += line.length;
      endless ||= discarded > limits.maxDiscardBytes;
      return;
    }
    const room = limits.maxBodyBytes - dataBytes;
    if (line.length > room) {
      if (room > 0) data.push(line.subarray(0, room));
      dataBytes += Math.max(0, room);
      flushData();
      events.push({ type: 'overflow', limit: limits.maxBodyBytes });
      overflowed = true;
      discarded = line.length - Math.max(0, room);
      endless = discarded > limits.maxDiscardBytes;
      return;
    }
    data.push(line);
    dataBytes += line.length;
  };
  while (pos < wire.length) {
    const lf = wire.indexOf(LF, pos);
    if (lf === -1) {
      if (wire.length - pos > limits.maxLineLength) return { events, error: 'ELIMIT' };
      return { events };
    }
    if (lf + 1 - pos > limits.maxLineLength) return { events, error: 'ELIMIT' };
    let status;
    try {
      status = parseStatusLine(wire.subarray(pos, lf + 1));
    } catch (error) {
      return { events, error: (error as Pop3Error).code };
    }
    pos = lf + 1;
    events.push({ type: 'status', line: status });
    const expectation = script[reply++];
    if (expectation === 'halt') return { events, held: Buffer.from(wire.subarray(pos)) };
    if (expectation !== 'multi' || status.kind !== 'ok') continue;
    // A body: line by line until the terminator line.
    dataBytes = 0;
    overflowed = false;
    discarded = 0;
    for (;;) {
      const end = wire.indexOf(LF, pos);
      const line = wire.subarray(pos, end === -1 ? wire.length : end + 1);
      const complete = end !== -1;
      const isTerminator =
        complete && line[0] === DOT && (line.length === 2 || (line.length === 3 && line[1] === CR));
      if (isTerminator) {
        pos = end + 1;
        flushData();
        events.push({ type: 'end' });
        break;
      }
      // An incomplete line `.` or `.CR` may still become the terminator: it is not data yet.
      const undecided =
        !complete && line[0] === DOT && (line.length === 1 || (line.length === 2 && line[1] === CR));
      if (undecided) {
        flushData();
        return { events };
      }
      give(line[0] === DOT ? line.subarray(1) : line);
      if (endless) return { events, error: 'ELIMIT' };
      if (!complete) {
        flushData();
        return { events };
      }
      pos = end + 1;
    }
  }
  return { events };
}

// -------------------------------------------------------------------------------------------------
// Well-formed replies (the model)

export interface ModelReply {
  readonly expectation: Expectation;
  readonly wire: Buffer;
  /** The body a correct decoder gives back, for a multi-line `+OK`. */
  readonly body?: Buffer;
}

/** One line's content (no LF): dots, CR, NUL and 8-bit octets favoured. */
const lineContent: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(
          '.',
          '..',
          '...',
          '.\r',
          '..\r',
          '. ',
          '.foo',
          '\r',
          '\r.',
          '\x00',
          '\xff\xfe',
          'From x',
          '',
        )
        .map((s) => bytes(s)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('', '.'),
          fc.integer({ min: 500, max: 6000 }),
          fc.integer({ min: 0, max: 255 }),
        )
        .map(([lead, length, fill]) => bytes(lead, Buffer.alloc(length, fill))),
    },
  )
  .map((line) => Buffer.from(line.filter((octet) => octet !== LF)));

/** A message body: lines ended by CRLF or a bare LF; the last one may lack its line ending. */
export const messageBody: fc.Arbitrary<Buffer> = fc
  .array(fc.tuple(lineContent, fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '')), { maxLength: 10 })
  .map((lines) =>
    bytes(...lines.flatMap(([content, eol], i) => [content, eol || (i < lines.length - 1 ? '\r\n' : '')])),
  );

/** What `stuff` makes of a body on the decoding side: a final line gets its CRLF. */
export function expectedBody(body: Buffer): Buffer {
  return body.length === 0 || body[body.length - 1] === LF ? body : bytes(body, '\r\n');
}

const statusText = fc.string({
  unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFXYZ[\\]^_`abcxyz{|}~'),
  maxLength: 40,
});

const statusLine = fc
  .tuple(
    fc.constantFrom('+OK', '+OK', '-ERR', '+ok', '-err'),
    fc.option(
      fc.constantFrom('[SYS/TEMP]', '[SYS/PERM]', '[IN-USE]', '[LOGIN-DELAY]', '[AUTH]', '[]', '[x'),
      {
        nil: undefined,
      },
    ),
    statusText,
    fc.constantFrom('\r\n', '\r\n', '\n'),
  )
  .map(([head, code, text, eol]) => bytes(head, code ? ` ${code}` : '', text ? ` ${text}` : '', eol));

/** A LIST or UIDL body, with the counts, numbers and UIDs a broken server gets wrong. */
export const listingBody: fc.Arbitrary<Buffer> = fc
  .array(
    fc.tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.nat({ max: 30 }).map(String) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('0', '-1', '1e3', '0x10', '', ' ', '99999999999999999999', '1.5'),
        },
      ),
      fc.oneof(
        { weight: 4, arbitrary: fc.nat({ max: 100_000 }).map(String) },
        {
          weight: 3,
          arbitrary: fc.constantFrom('uid-1', 'uid-1', 'dup', '', '<a@b>', 'ü\xff', 'x y', '\x00'),
        },
        { weight: 1, arbitrary: fc.constantFrom('-5', '1e9', '18446744073709551616', 'NaN') },
      ),
      fc.constantFrom(' ', '  ', '\t', ''),
      fc.constantFrom('\r\n', '\n', '\r\n'),
    ),
    { maxLength: 12 },
  )
  .map((lines) => bytes(...lines.flatMap(([n, rest, sep, eol]) => [n, sep, rest, eol])));

/** A CAPA body: tags and arguments, some odd. */
export const capaBody: fc.Arbitrary<Buffer> = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'USER',
        'UIDL',
        'TOP',
        'PIPELINING',
        'SASL',
        'STLS',
        'LOGIN-DELAY',
        'EXPIRE',
        'utf8',
        'x',
        '',
      ),
      fc.array(
        fc.constantFrom('PLAIN', 'XOAUTH2', '300', '-5', '0x10', 'NEVER', '0', '1e3', '\xff', '\x00'),
        {
          maxLength: 3,
        },
      ),
      fc.constantFrom('\r\n', '\n', ' \r\n', '\t\r\n'),
    ),
    { maxLength: 10 },
  )
  .map((lines) => bytes(...lines.flatMap(([tag, args, eol]) => [[tag, ...args].join(' '), eol])));

const singleLineReply: fc.Arbitrary<ModelReply> = fc
  .oneof(
    statusLine,
    statusText.map((text) => bytes('+', text ? ` ${text}` : '', '\r\n')),
  )
  .map((wire) => ({ expectation: 'single' as const, wire }));

const multiLineReply: fc.Arbitrary<ModelReply> = fc
  .tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constant(bytes('+OK\r\n')) }, { weight: 2, arbitrary: statusLine }),
    fc.oneof(
      { weight: 4, arbitrary: messageBody },
      { weight: 2, arbitrary: listingBody },
      { weight: 1, arbitrary: capaBody },
    ),
  )
  .map(([status, body]) => {
    const ok = /^\+ok/i.test(status.toString('latin1'));
    return ok
      ? { expectation: 'multi' as const, wire: bytes(status, stuff(body)), body: expectedBody(body) }
      : { expectation: 'multi' as const, wire: status };
  });

/** STLS: after its +OK the decoder halts and holds what follows. */
const haltReply: fc.Arbitrary<ModelReply> = fc.constant({
  expectation: 'halt' as const,
  wire: bytes('+OK begin TLS\r\n'),
});

export const modelReplies: fc.Arbitrary<ModelReply[]> = fc
  .tuple(
    fc.array(fc.oneof({ weight: 4, arbitrary: multiLineReply }, { weight: 3, arbitrary: singleLineReply }), {
      minLength: 1,
      maxLength: 6,
    }),
    fc.option(haltReply, { freq: 8, nil: undefined }),
  )
  .map(([replies, halt]) => (halt ? [...replies, halt] : replies));

// -------------------------------------------------------------------------------------------------
// Mutations

/** Bytes a hostile server inserts. */
const hostileBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(
    ...[
      '\x00',
      '\xff',
      '\x80\x81',
      '\r',
      '\n',
      '\r\n',
      '.',
      '.\r\n',
      '\r\n.\r\n',
      '.\n',
      '\n.\n',
      '..',
      '+OK ',
      '-ERR ',
      '+OK\r\n',
      '-ERR [SYS/TEMP] no\r\n',
      '+ ',
      '* OK',
      'OK\r\n',
      '+OKAY\r\n',
      '\xef\xbb\xbf',
      '\xc3\x28',
      '\xed\xa0\x80',
    ].map((s) => bytes(s)),
  ),
  fc.uint8Array({ minLength: 1, maxLength: 20 }).map((a) => Buffer.from(a)),
  // An overlong line without a line ending.
  fc.integer({ min: 400, max: 3000 }).map((n) => Buffer.alloc(n, 0x41)),
);

export type Mutation =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly data: Buffer }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'replace'; readonly at: number; readonly octet: number }
  /** Every CRLF becomes a bare LF, or every LF a CRLF... of one reply region. */
  | { readonly kind: 'lineEndings'; readonly at: number; readonly to: 'lf' | 'cr' }
  /** A stuffing dot removed (a server that forgot to stuff a line). */
  | { readonly kind: 'unstuff'; readonly at: number };

/** Positions are fractions of the stream, so a mutation fits whatever stream it is applied to. */
const at = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: at.map((a) => ({ kind: 'truncate' as const, at: a })) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, data: hostileBytes }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      at,
      length: fc.integer({ min: 1, max: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      at,
      octet: fc.oneof(
        fc.constantFrom(0, 0x0a, 0x0d, 0x2e, 0x2b, 0x2d, 0xff),
        fc.integer({ min: 0, max: 255 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('lineEndings' as const),
      at,
      to: fc.constantFrom('lf' as const, 'cr' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unstuff' as const), at }) },
);

export function applyMutation(wire: Buffer, m: Mutation): Buffer {
  const p = Math.floor(m.at * (wire.length + 1));
  switch (m.kind) {
    case 'truncate':
      return wire.subarray(0, p);
    case 'insert':
      return bytes(wire.subarray(0, p), m.data, wire.subarray(p));
    case 'delete':
      return bytes(wire.subarray(0, p), wire.subarray(p + m.length));
    case 'replace':
      if (p >= wire.length) return wire;
      return bytes(wire.subarray(0, p), [m.octet], wire.subarray(p + 1));
    case 'lineEndings': {
      // From `p` to the next terminator-looking line: one reply's worth.
      const tail = wire.subarray(p).toString('latin1');
      const changed = m.to === 'lf' ? tail.replace(/\r\n/g, '\n') : tail.replace(/\r\n/g, '\r');
      return bytes(wire.subarray(0, p), changed);
    }
    case 'unstuff': {
      const stuffed = wire.indexOf('\n..', p, 'latin1');
      if (stuffed === -1) return wire;
      return bytes(wire.subarray(0, stuffed + 1), wire.subarray(stuffed + 2));
    }
  }
}

/** Split points as fractions of the stream length. */
export const splits = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 });

export function chunk(wire: Buffer, fractions: readonly number[]): Buffer[] {
  const points = fractions.map((f) => Math.floor(f * wire.length)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    out.push(wire.subarray(start, point));
    start = point;
  }
  out.push(wire.subarray(start));
  return out;
}
