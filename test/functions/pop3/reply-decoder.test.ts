import fc from 'fast-check';
import { Pop3Error } from '../../../functions/pop3/errors';
import {
  DEFAULT_DECODER_LIMITS,
  parseStatusLine,
  ReplyDecoder,
  type DecoderLimits,
  type StatusLine,
} from '../../../functions/pop3/reply-decoder';
import { RecordingSink, type DecoderEvent, type Expectation } from '../../support/recording-sink';

// Bytes are written as latin1 strings: one char per octet, so '\x80' is the octet 0x80.
const bytes = (...parts: Array<string | Buffer | readonly number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const latin1 = (b: Buffer): string => b.toString('latin1');

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** RFC 1939 §3 as a server applies it: a dot before every line that starts with a dot, then `.CRLF`. */
function stuff(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length * 2 + 3);
  let n = 0;
  let lineStart = true;
  for (const octet of body) {
    // Lines end at LF, so lines ended by a bare LF are stuffed too (Dovecot and Python's poplib
    // agree); for CRLF lines this is exactly RFC 1939.
    if (lineStart && octet === DOT) out[n++] = DOT;
    out[n++] = octet;
    lineStart = octet === LF;
  }
  n += out.write('.\r\n', n, 'latin1');
  return out.subarray(0, n);
}

function decode(chunks: Iterable<Buffer>, script: readonly Expectation[], limits?: Partial<DecoderLimits>) {
  const sink = new RecordingSink(script);
  const decoder = new ReplyDecoder(sink, limits);
  for (const chunk of chunks) decoder.push(chunk);
  return { sink, decoder };
}

function* splitAt(input: Buffer, ...points: number[]): Generator<Buffer> {
  let start = 0;
  for (const point of points) {
    yield input.subarray(start, point);
    start = point;
  }
  yield input.subarray(start);
}

function* oneByteAtATime(input: Buffer): Generator<Buffer> {
  for (let i = 0; i < input.length; i++) yield input.subarray(i, i + 1);
}

/** Decoder events a correct decoder produces for these replies (status, data, overflow, end). */
function expectedEvents(
  replies: ReadonlyArray<{ status: StatusLine; body?: Buffer }>,
  maxBodyBytes = DEFAULT_DECODER_LIMITS.maxBodyBytes,
): DecoderEvent[] {
  const events: DecoderEvent[] = [];
  for (const { status, body } of replies) {
    events.push({ type: 'status', line: status });
    if (body === undefined) continue;
    const delivered = body.subarray(0, maxBodyBytes);
    if (delivered.length > 0) events.push({ type: 'data', bytes: latin1(delivered) });
    if (body.length > maxBodyBytes) events.push({ type: 'overflow', limit: maxBodyBytes });
    events.push({ type: 'end' });
  }
  return events;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectPop3Error(fn: () => unknown, code: Pop3Error['code']): Pop3Error {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(Pop3Error);
  expect((error as Pop3Error).code).toBe(code);
  return error as Pop3Error;
}

const ok = (text = '', code?: string): StatusLine =>
  code ? { kind: 'ok', text, code } : { kind: 'ok', text };
const err = (text = '', code?: string): StatusLine =>
  code ? { kind: 'err', text, code } : { kind: 'err', text };

interface Fixture {
  readonly name: string;
  readonly wire: Buffer;
  readonly script: readonly Expectation[];
  readonly replies: ReadonlyArray<{ status: StatusLine; body?: Buffer }>;
}

const ALL_OCTETS_BUT_CR_LF = Array.from({ length: 256 }, (_, i) => i).filter((i) => i !== CR && i !== LF);
const HIGH_OCTETS_DOWN = Array.from({ length: 128 }, (_, i) => 0xff - i);

const FIXTURES: readonly Fixture[] = [
  {
    name: 'a greeting with an APOP timestamp',
    wire: bytes('+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n'),
    script: ['single'],
    replies: [{ status: ok('POP3 server ready <1896.697170952@dbc.mtview.ca.us>') }],
  },
  {
    name: 'a Dovecot CAPA reply',
    wire: bytes(
      '+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\n',
      'SASL PLAIN LOGIN CRAM-MD5\r\n.\r\n',
    ),
    script: ['multi'],
    replies: [
      {
        status: ok(),
        body: bytes(
          'CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\n',
          'SASL PLAIN LOGIN CRAM-MD5\r\n',
        ),
      },
    ],
  },
  {
    name: 'a RETR with dot-stuffed lines',
    wire: bytes(
      '+OK 120 octets\r\n',
      'Return-Path: <a@example.org>\r\nSubject: dots\r\n\r\n',
      '..foo\r\n', // stuffed `.foo`
      '..\r\n', // stuffed `.`: a line holding one dot
      '...\r\n', // stuffed `..`
      '.bar\r\n', // `.` then text, not stuffed by the server: the first octet still goes
      'a line. with .dots.\r\n', // dots not at the start of a line are data
      '.\r\n',
    ),
    script: ['multi'],
    replies: [
      {
        status: ok('120 octets'),
        body: bytes(
          'Return-Path: <a@example.org>\r\nSubject: dots\r\n\r\n',
          '.foo\r\n.\r\n..\r\nbar\r\na line. with .dots.\r\n',
        ),
      },
    ],
  },
  {
    name: '8-bit octets and NUL in the body',
    wire: bytes(
      '+OK\r\n',
      ALL_OCTETS_BUT_CR_LF,
      '\r\n',
      HIGH_OCTETS_DOWN,
      '\x00\x00\r\n',
      '..\xe9\x00\xff\r\n',
      '.\r\n',
    ),
    script: ['multi'],
    replies: [
      {
        status: ok(),
        body: bytes(ALL_OCTETS_BUT_CR_LF, '\r\n', HIGH_OCTETS_DOWN, '\x00\x00\r\n.\xe9\x00\xff\r\n'),
      },
    ],
  },
  {
    name: 'bare-LF lines inside the body',
    wire: bytes('+OK\r\nfirst\nsecond\n..stuffed after a bare LF\n\nlast\r\n.\r\n'),
    script: ['multi'],
    replies: [{ status: ok(), body: bytes('first\nsecond\n.stuffed after a bare LF\n\nlast\r\n') }],
  },
  {
    name: '`.` CR followed by an octet other than LF',
    wire: bytes('+OK\r\n.\rX\r\n..\r.\r\n.\r\r\n.\r\n'),
    script: ['multi'],
    replies: [{ status: ok(), body: bytes('\rX\r\n.\r.\r\n\r\r\n') }],
  },
  {
    name: 'an empty body followed by a second reply',
    wire: bytes('+OK 0 messages\r\n.\r\n+OK\r\n'),
    script: ['multi', 'single'],
    replies: [{ status: ok('0 messages'), body: Buffer.alloc(0) }, { status: ok() }],
  },
  {
    name: 'a body of empty lines, then a second multi-line reply',
    wire: bytes('+OK\r\n\r\n\r\n.\r\n+OK 2 messages\r\n1 120\r\n2 2400\r\n.\r\n'),
    script: ['multi', 'multi'],
    replies: [
      { status: ok(), body: bytes('\r\n\r\n') },
      { status: ok('2 messages'), body: bytes('1 120\r\n2 2400\r\n') },
    ],
  },
  {
    name: '-ERR to a multi-line command (no body), then a RETR',
    wire: bytes('-ERR [SYS/TEMP] unable to read message\r\n+OK 5 octets\r\nhi\r\n\r\n.\r\n'),
    script: ['multi', 'multi'],
    replies: [
      { status: err('unable to read message', 'SYS/TEMP') },
      { status: ok('5 octets'), body: bytes('hi\r\n\r\n') },
    ],
  },
  {
    name: 'terminator look-alikes inside lines',
    wire: bytes('+OK\r\nx.\r\n\r\n..\r\n\r\n. \r\n.\x00\r\n.\r\n'),
    script: ['multi'],
    replies: [{ status: ok(), body: bytes('x.\r\n\r\n.\r\n\r\n \r\n\x00\r\n') }],
  },
  {
    name: 'a SASL challenge, then the final +OK',
    wire: bytes('+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n+OK Logged in.\r\n'),
    script: ['single', 'single'],
    replies: [
      { status: { kind: 'continuation', text: 'PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+' } },
      { status: ok('Logged in.') },
    ],
  },
  {
    name: 'bare-LF status lines and a bare-LF `.` terminator (lenient)',
    wire: bytes('+OK\nabc\r\n.\n-ERR [IN-USE] locked\n'),
    script: ['multi', 'single'],
    replies: [{ status: ok(), body: bytes('abc\r\n') }, { status: err('locked', 'IN-USE') }],
  },
];

describe('Class: ReplyDecoder', () => {
  describe.each(FIXTURES)('$name', ({ wire, script, replies }) => {
    const expected = expectedEvents(replies);

    const check = (chunks: Iterable<Buffer>, how: string) => {
      const { sink, decoder } = decode(chunks, script);
      // `how` is in both objects so a failure says which chunking broke.
      expect({ how, events: sink.events, violations: sink.violations }).toEqual({
        how,
        events: expected,
        violations: [],
      });
      expect(decoder.readingBody).toBe(false);
      expect(decoder.hasPartialInput).toBe(false);
      return sink;
    };

    it('decodes the bytes fed whole', () => {
      const sink = check([wire], 'whole');
      // The recorded replies carry the exact body bytes (final CRLF kept, terminator removed).
      expect(sink.recorded.map((r) => r.body && latin1(r.body))).toEqual(
        replies.map((r) => r.body && latin1(r.body)),
      );
      expect(sink.recorded.every((r) => r.ends === (r.body === undefined ? 0 : 1))).toBe(true);
    });

    it('decodes the same when split into two chunks at every position', () => {
      for (let i = 0; i <= wire.length; i++) check(splitAt(wire, i), `split at ${i}`);
    });

    it('decodes the same when split into three chunks at every pair of positions up to 6 apart', () => {
      // Every way of cutting any 6-octet window (`CRLF.CRLF` and `CRLF..` included) in three.
      for (let i = 0; i <= wire.length; i++) {
        for (let j = i; j <= Math.min(i + 6, wire.length); j++)
          check(splitAt(wire, i, j), `split at ${i}, ${j}`);
      }
    });

    it('decodes the same when fed one byte at a time', () => {
      check(oneByteAtATime(wire), 'one byte at a time');
    });
  });

  describe('a 1 MB body line', () => {
    // 1 MiB of every octet but LF (CR included, dots included), behind a stuffed leading dot.
    const long = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < long.length; i++) {
      const octet = (i * 131 + 7) & 0xff;
      long[i] = octet === LF ? DOT : octet;
    }
    const wire = bytes('+OK 1048579 octets\r\n..', long, '\r\n.\r\n+OK bye\r\n');
    const body = bytes('.', long, '\r\n');
    const expected = expectedEvents([{ status: ok('1048579 octets'), body }, { status: ok('bye') }]);
    const script: Expectation[] = ['multi', 'single'];

    const check = (chunks: Iterable<Buffer>, how: string) => {
      const { sink } = decode(chunks, script);
      expect(sink.violations).toEqual([]);
      const events = sink.events;
      // Compare the big body with Buffer#equals first: a 1 MB diff helps nobody.
      const data = events[1];
      expect({ how, same: data?.type === 'data' && data.bytes === latin1(body) }).toEqual({
        how,
        same: true,
      });
      expect(events).toEqual(expected);
    };

    it('is not limited by maxLineLength and keeps every octet, whole and in 64 KiB chunks', () => {
      check([wire], 'whole');
      const chunks: Buffer[] = [];
      for (let i = 0; i < wire.length; i += 65536) chunks.push(wire.subarray(i, i + 65536));
      check(chunks, '64 KiB chunks');
    });

    it('decodes the same when split in two near the line edges and at every 4099th position', () => {
      const points = new Set<number>();
      for (let i = 0; i < 64; i++) {
        points.add(i);
        points.add(wire.length - i);
      }
      for (let i = 0; i < wire.length; i += 4099) points.add(i);
      for (const point of points) check(splitAt(wire, point), `split at ${point}`);
    });

    it('decodes the same when fed one byte at a time', () => {
      check(oneByteAtATime(wire), 'one byte at a time');
    });
  });

  describe('properties', () => {
    /** One line's content: no LF (that is what ends it), with dots and 8-bit octets favoured. */
    const lineContent = fc
      .oneof(
        { weight: 5, arbitrary: fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)) },
        {
          weight: 3,
          arbitrary: fc
            .constantFrom(
              '.',
              '..',
              '...',
              '.\r',
              '..\r',
              '. ',
              '.foo',
              '..bar',
              '\r',
              '\r.',
              '\x00',
              '\xff.',
            )
            .map((s) => bytes(s)),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.constantFrom('', '.'), fc.integer({ min: 1000, max: 70_000 }), fc.integer({ max: 255 }))
            .map(([lead, length, fill]) => bytes(lead, Buffer.alloc(length, fill))),
        },
      )
      .map((line) => Buffer.from(line.filter((octet) => octet !== LF)));

    /** A message body: lines ended by CRLF or a bare LF; the last one always by CRLF. */
    const messageBody = fc
      .array(fc.tuple(lineContent, fc.constantFrom('\r\n', '\r\n', '\n')), { maxLength: 12 })
      .map((lines) =>
        bytes(...lines.flatMap(([content, eol], i) => [content, i === lines.length - 1 ? '\r\n' : eol])),
      );

    /** Status text: printable ASCII, not starting with a space or `[` (a response code is separate). */
    const statusText = fc
      .string({
        unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFXYZ\\]^_`abcxyz{|}~'),
        maxLength: 30,
      })
      .filter((text) => !text.startsWith(' '));

    interface ModelReply {
      readonly expectation: Expectation;
      readonly wire: Buffer;
      readonly status: StatusLine;
      readonly body?: Buffer;
    }

    const okOrErrStatus = fc
      .record({
        kind: fc.constantFrom('ok' as const, 'err' as const),
        lowerCase: fc.boolean(),
        code: fc.option(fc.constantFrom('SYS/TEMP', 'SYS/PERM', 'IN-USE', 'LOGIN-DELAY', 'AUTH', 'UTF8'), {
          nil: undefined,
        }),
        text: statusText,
        eol: fc.constantFrom('\r\n', '\r\n', '\n'),
      })
      .map(({ kind, lowerCase, code, text, eol }) => {
        const head = kind === 'ok' ? '+OK' : '-ERR';
        const codePart = code ? `[${lowerCase ? code.toLowerCase() : code}]` : '';
        const rest = [codePart, text].filter(Boolean).join(' ');
        const line = `${lowerCase ? head.toLowerCase() : head}${rest ? ` ${rest}` : ''}${eol}`;
        const status: StatusLine = code ? { kind, text, code } : { kind, text };
        return { line: bytes(line), status };
      });

    const continuationStatus = statusText.map((text) => ({
      line: bytes(`+${text ? ` ${text}` : ''}\r\n`),
      status: { kind: 'continuation', text } as StatusLine,
    }));

    const singleLineReply: fc.Arbitrary<ModelReply> = fc
      .oneof(okOrErrStatus, continuationStatus)
      .map(({ line, status }) => ({ expectation: 'single', wire: line, status }));

    const multiLineReply: fc.Arbitrary<ModelReply> = fc
      .tuple(okOrErrStatus, messageBody)
      .map(([{ line, status }, body]) =>
        status.kind === 'ok'
          ? { expectation: 'multi', wire: bytes(line, stuff(body)), status, body }
          : { expectation: 'multi', wire: line, status },
      );

    const replies = fc.array(fc.oneof(singleLineReply, multiLineReply), { minLength: 1, maxLength: 6 });

    /** Split points as fractions of the stream length, so they fit whatever stream is drawn. */
    const splits = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });
    const chunk = (wire: Buffer, fractions: readonly number[]) =>
      splitAt(wire, ...fractions.map((f) => Math.floor(f * wire.length)).sort((a, b) => a - b));

    it('(a) decoding a stuffed body gives the original body back, byte-exact', () => {
      fc.assert(
        fc.property(messageBody, splits, (body, fractions) => {
          const wire = bytes('+OK\r\n', stuff(body));
          for (const chunks of [[wire], chunk(wire, fractions)]) {
            const { sink } = decode(chunks, ['multi']);
            expect(sink.violations).toEqual([]);
            const [reply] = sink.recorded;
            expect(reply?.ends).toBe(1);
            expect(latin1(reply?.body ?? Buffer.alloc(0))).toBe(latin1(body));
          }
        }),
        { numRuns: 300 },
      );
    });

    it('(b) any chunking of a byte stream gives the same sequence of events', () => {
      fc.assert(
        fc.property(
          replies,
          splits,
          fc.option(fc.nat({ max: 300 }), { nil: undefined }),
          (model, fractions, maxBodyBytes) => {
            const wire = bytes(...model.map((r) => r.wire));
            const script = model.map((r) => r.expectation);
            const limits = maxBodyBytes === undefined ? {} : { maxBodyBytes };
            const whole = decode([wire], script, limits).sink;
            const chunked = decode(chunk(wire, fractions), script, limits).sink;
            const bytewise = decode(oneByteAtATime(wire), script, limits).sink;
            expect(chunked.events).toEqual(whole.events);
            expect(bytewise.events).toEqual(whole.events);
            expect(chunked.violations).toEqual([]);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('(c) replies back to back, single- and multi-line mixed, decode in order', () => {
      fc.assert(
        fc.property(
          replies,
          splits,
          fc.option(fc.nat({ max: 300 }), { nil: undefined }),
          (model, fractions, maxBodyBytes) => {
            const wire = bytes(...model.map((r) => r.wire));
            const script = model.map((r) => r.expectation);
            const { sink, decoder } = decode(
              chunk(wire, fractions),
              script,
              maxBodyBytes === undefined ? {} : { maxBodyBytes },
            );
            expect(sink.violations).toEqual([]);
            expect(sink.events).toEqual(expectedEvents(model, maxBodyBytes));
            expect(decoder.hasPartialInput).toBe(false);
          },
        ),
        { numRuns: 300 },
      );
    });
  });

  describe('limits', () => {
    it('accepts a status line of exactly maxLineLength octets, CRLF included', () => {
      const line = bytes('+OK ', 'x'.repeat(506), '\r\n');
      expect(line.length).toBe(512);
      const { sink } = decode([line], ['single']);
      expect(sink.events).toEqual([{ type: 'status', line: ok('x'.repeat(506)) }]);
    });

    it('throws ELIMIT for a longer status line when its LF arrives, however it was chunked', () => {
      const line = bytes('+OK ', 'x'.repeat(507), '\r\n');
      expect(line.length).toBe(513);
      for (let i = 0; i <= line.length; i++) {
        const sink = new RecordingSink(['single']);
        const decoder = new ReplyDecoder(sink);
        const error = expectPop3Error(() => {
          for (const part of splitAt(line, i)) decoder.push(part);
        }, 'ELIMIT');
        expect(error.message).toMatch(/exceeds 512/);
        expect(sink.replies).toEqual([]);
      }
    });

    it('throws ELIMIT as soon as a status line without LF grows past the limit (partial accumulation)', () => {
      const decoder = new ReplyDecoder(new RecordingSink(['single']), { maxLineLength: 64 });
      // 64 octets and no LF yet: still within the limit, so it waits.
      for (let i = 0; i < 64; i++) decoder.push(bytes(i < 4 ? '+OK '[i]! : 'x'));
      expect(decoder.hasPartialInput).toBe(true);
      const error = expectPop3Error(() => decoder.push(bytes('x')), 'ELIMIT');
      expect(error.message).toBe('server status line exceeds 64 octets without a line ending');
    });

    it('throws ELIMIT for an endless status line pushed in one chunk', () => {
      const decoder = new ReplyDecoder(new RecordingSink(['single']));
      expectPop3Error(() => decoder.push(bytes('+OK ', 'A'.repeat(100_000))), 'ELIMIT');
    });

    it('counts a status line from its own start, not from the start of the chunk', () => {
      // The second status line is exactly 16 octets; the body before it in the same chunk is not
      // part of it.
      const wire = bytes('+OK\r\n', 'body line longer than sixteen\r\n', '.\r\n', '+OK 0123456789\r\n');
      for (let i = 0; i <= wire.length; i++) {
        const { sink } = decode(splitAt(wire, i), ['multi', 'single'], { maxLineLength: 16 });
        expect(sink.events).toEqual(
          expectedEvents([
            { status: ok(), body: bytes('body line longer than sixteen\r\n') },
            { status: ok('0123456789') },
          ]),
        );
      }
    });

    describe('a body over maxBodyBytes', () => {
      const body = bytes('0123456789\r\n', '..dotted line\r\n', 'the rest of it\r\n');
      const unstuffed = bytes('0123456789\r\n', '.dotted line\r\n', 'the rest of it\r\n');
      const wire = bytes('+OK\r\n', body, '.\r\n', '+OK 1 240\r\n', '+OK\r\nnext\r\n.\r\n');
      const script: Expectation[] = ['multi', 'single', 'multi'];
      const limit = 20;

      // Regression (fuzz suite, "endless-reply"): a body past the limit was discarded for as long as
      // the server kept sending it, without end.
      it('endless-reply: throws ELIMIT once maxDiscardBytes more have come without the terminator', () => {
        for (const chunks of [[wire], [...oneByteAtATime(wire)]]) {
          const sink = new RecordingSink(script);
          const decoder = new ReplyDecoder(sink, { maxBodyBytes: 5, maxDiscardBytes: 10 });
          const error = catchError(() => {
            for (const chunk of chunks) decoder.push(chunk);
          });
          expect(error).toBeInstanceOf(Pop3Error);
          expect(error).toMatchObject({
            code: 'ELIMIT',
            message: expect.stringMatching(/15 octets; taken as never ending/),
          });
          expect(sink.events).toEqual([
            { type: 'status', line: { kind: 'ok', text: '' } },
            { type: 'data', bytes: '01234' },
            { type: 'overflow', limit: 5 },
          ]);
        }
      });

      it('endless-reply: a body within maxBodyBytes + maxDiscardBytes still ends', () => {
        const sink = new RecordingSink(script);
        const decoder = new ReplyDecoder(sink, { maxBodyBytes: 5, maxDiscardBytes: unstuffed.length - 5 });
        decoder.push(wire);
        expect(sink.replies.map((r) => r.ends)).toEqual([1, 0, 1]);
      });

      it('calls overflow once, delivers no more data, still ends, and the next replies decode', () => {
        for (const [how, chunks] of [
          ['whole', [wire]],
          ['one byte at a time', oneByteAtATime(wire)],
          ...Array.from({ length: wire.length + 1 }, (_, i) => [`split at ${i}`, splitAt(wire, i)] as const),
        ] as const) {
          const { sink, decoder } = decode(chunks, script, { maxBodyBytes: limit });
          expect({ how, violations: sink.violations }).toEqual({ how, violations: [] });
          const [big, single, next] = sink.recorded;
          expect({ how, overflows: big?.overflows, ends: big?.ends }).toEqual({
            how,
            overflows: [limit],
            ends: 1,
          });
          // Exactly the first `limit` octets of the unstuffed body, whatever the chunking.
          expect({ how, body: big?.body && latin1(big.body) }).toEqual({
            how,
            body: latin1(unstuffed.subarray(0, limit)),
          });
          expect(single?.status).toEqual(ok('1 240'));
          expect(next && latin1(next.body!)).toBe('next\r\n');
          expect(next?.overflows).toEqual([]);
          expect(decoder.hasPartialInput).toBe(false);
        }
      });

      it('does not overflow a body of exactly maxBodyBytes', () => {
        const { sink } = decode([wire], script, { maxBodyBytes: unstuffed.length });
        expect(sink.recorded[0]?.overflows).toEqual([]);
        expect(latin1(sink.recorded[0]!.body!)).toBe(latin1(unstuffed));
      });

      it('overflows at once, with no data, when maxBodyBytes is 0', () => {
        const { sink } = decode(oneByteAtATime(wire), script, { maxBodyBytes: 0 });
        expect(sink.events.slice(0, 3)).toEqual([
          { type: 'status', line: ok() },
          { type: 'overflow', limit: 0 },
          { type: 'end' },
        ]);
      });
    });
  });

  describe('halt', () => {
    // STLS (RFC 2595 §3.1 / RFC 7817): bytes after `+OK` and before the TLS handshake are an
    // injection attempt; the decoder holds them for the client to refuse.
    const injected = bytes('+OK injected\r\n-ERR \x00\xff\r\n');
    const wire = bytes('+OK Begin TLS negotiation now\r\n', injected);

    it('holds the bytes after the status line and resume() returns them exactly', () => {
      for (let i = 0; i <= wire.length; i++) {
        const sink = new RecordingSink(['halt', 'single']);
        const decoder = new ReplyDecoder(sink);
        for (const part of splitAt(wire, i)) decoder.push(part);
        expect(sink.events).toEqual([{ type: 'status', line: ok('Begin TLS negotiation now') }]);
        expect(decoder.hasPartialInput).toBe(true);
        expect({ split: i, held: latin1(decoder.resume()) }).toEqual({ split: i, held: latin1(injected) });
        expect(decoder.hasPartialInput).toBe(false);
        // After resume() the decoder decodes again, from the next byte pushed.
        decoder.push(bytes('+OK\r\n'));
        expect(sink.events).toHaveLength(2);
        expect(sink.events[1]).toEqual({ type: 'status', line: ok() });
      }
    });

    it('holds bytes fed one at a time after the halt', () => {
      const sink = new RecordingSink(['halt']);
      const decoder = new ReplyDecoder(sink);
      for (const part of oneByteAtATime(wire)) decoder.push(part);
      expect(sink.events).toHaveLength(1);
      expect(latin1(decoder.resume())).toBe(latin1(injected));
    });

    it('resume() returns an empty buffer when nothing arrived', () => {
      const sink = new RecordingSink(['halt']);
      const decoder = new ReplyDecoder(sink);
      decoder.push(bytes('+OK Begin TLS\r\n'));
      expect(decoder.hasPartialInput).toBe(false);
      expect(decoder.resume()).toEqual(Buffer.alloc(0));
    });
  });

  describe('state', () => {
    it('reports readingBody and hasPartialInput as bytes arrive', () => {
      const decoder = new ReplyDecoder(new RecordingSink(['multi']));
      expect(decoder.hasPartialInput).toBe(false);
      decoder.push(bytes('+O'));
      expect(decoder.hasPartialInput).toBe(true);
      expect(decoder.readingBody).toBe(false);
      decoder.push(bytes('K\r\nbody\r\n.'));
      expect(decoder.readingBody).toBe(true);
      expect(decoder.hasPartialInput).toBe(true);
      decoder.push(bytes('\r\n'));
      expect(decoder.readingBody).toBe(false);
      expect(decoder.hasPartialInput).toBe(false);
    });

    it('throws EPROTOCOL for a malformed status line pushed to it', () => {
      const decoder = new ReplyDecoder(new RecordingSink(['single']));
      expectPop3Error(() => decoder.push(bytes('* OK [CAPABILITY IMAP4rev1] ready\r\n')), 'EPROTOCOL');
    });
  });
});

describe('Function: parseStatusLine', () => {
  it.each<[string, StatusLine]>([
    ['+OK', ok()],
    ['+OK\r\n', ok()],
    ['+OK\n', ok()],
    ['+OK 2 320\r\n', ok('2 320')],
    ['+ok dovecot ready.', ok('dovecot ready.')],
    ['-ERR no such message\r\n', err('no such message')],
    ['-ERR', err()],
    ['+ \r\n', { kind: 'continuation', text: '' }],
    ['+\r\n', { kind: 'continuation', text: '' }],
    ['+ VXNlcm5hbWU6\r\n', { kind: 'continuation', text: 'VXNlcm5hbWU6' }],
    ['-ERR [SYS/TEMP] try again later\r\n', err('try again later', 'SYS/TEMP')],
    ['-ERR [SYS/PERM] mailbox corrupt', err('mailbox corrupt', 'SYS/PERM')],
    [
      '-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n',
      err('Mailbox is locked by another POP3 session', 'IN-USE'),
    ],
    [
      '-ERR [LOGIN-DELAY] minimum time between logins not elapsed',
      err('minimum time between logins not elapsed', 'LOGIN-DELAY'),
    ],
    ['-err [auth] bad credentials\r\n', err('bad credentials', 'AUTH')],
    ['-ERR [SYS/TEMP]', err('', 'SYS/TEMP')],
    ['+OK [UTF8] now in UTF-8 mode', ok('now in UTF-8 mode', 'UTF8')],
    ['+OKhello', ok('hello')],
    ['-ERR[IN-USE] locked', err('locked', 'IN-USE')],
    ['+OK Grüße', ok('Grüße')],
  ])('parses %j', (line, expected) => {
    expect(parseStatusLine(Buffer.from(line, 'utf8'))).toEqual(expected);
  });

  it('keeps UTF-8 status text intact (RFC 6856)', () => {
    expect(parseStatusLine(Buffer.from('-ERR [UTF8] Nachricht zu groß\r\n', 'utf8'))).toEqual(
      err('Nachricht zu groß', 'UTF8'),
    );
  });

  it.each([
    ['an IMAP greeting (wrong port)', '* OK [CAPABILITY IMAP4rev1] ready\r\n'],
    ['an SMTP greeting (wrong port)', '220 mx.example.org ESMTP\r\n'],
    ['an HTTP reply', 'HTTP/1.1 400 Bad Request\r\n'],
    ['an empty line', '\r\n'],
    ['OK without +', 'OK\r\n'],
    ['+NO', '+NO\r\n'],
    ['ERR without -', 'ERR\r\n'],
  ])('throws EPROTOCOL for %s', (_what, line) => {
    const error = expectPop3Error(() => parseStatusLine(Buffer.from(line, 'latin1')), 'EPROTOCOL');
    expect(error.message).toContain('malformed server status line: ');
    expect(error.message).toContain(line.replace(/\r\n$/, ''));
  });

  it('escapes control characters of a malformed line in the error message', () => {
    const error = expectPop3Error(
      () => parseStatusLine(Buffer.from('\x1b[2J\x07evil\x00\tline\x7f\r\n', 'latin1')),
      'EPROTOCOL',
    );
    expect(error.message).toBe('malformed server status line: \\x1b[2J\\x07evil\\x00\\x09line\\x7f');
    // eslint-disable-next-line no-control-regex
    expect(error.message).not.toMatch(/[\x00-\x1f\x7f]/);
  });

  it('shortens a long malformed line in the error message', () => {
    const error = expectPop3Error(() => parseStatusLine(Buffer.from('X'.repeat(500))), 'EPROTOCOL');
    expect(error.message).toBe(`malformed server status line: ${'X'.repeat(120)}…`);
  });
  // Regression (fuzz suite, "echoed-password"): the client's secrets echoed in a line that is not a
  // status line reached the EPROTOCOL message; the scrub now runs first, before the shortening.
  it('echoed-password: applies scrub to the line before quoting and shortening it', () => {
    const scrub = (text: string) => text.split('hunter2-secret').join('[redacted]');
    const line = Buffer.from(`${'X'.repeat(112)}hunter2-secret\r\n`);
    const error = expectPop3Error(() => parseStatusLine(line, scrub), 'EPROTOCOL');
    expect(error.message).toBe(`malformed server status line: ${'X'.repeat(112)}[redacte…`);
    expect(error.message).not.toContain('hunter');
  });

  it('echoed-password: the decoder hands its scrub to the status line parser', () => {
    const scrub = (text: string) => text.split('hunter2-secret').join('[redacted]');
    const decoder = new ReplyDecoder(new RecordingSink(['single']), {}, scrub);
    const error = expectPop3Error(() => decoder.push(Buffer.from('PASS hunter2-secret\r\n')), 'EPROTOCOL');
    expect(error.message).toBe('malformed server status line: PASS [redacted]');
  });
});
