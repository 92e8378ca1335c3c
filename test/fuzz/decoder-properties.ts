import fc from 'fast-check';
import { Capabilities } from '../../functions/pop3/capabilities';
import { ERROR_CODES, Pop3Error } from '../../functions/pop3/errors';
import { apopTimestamp } from '../../functions/pop3/greeting';
import { parseList, parseStat, parseUidl, parseUidlLine } from '../../functions/pop3/listing';
import { parseStatusLine, ReplyDecoder, type DecoderLimits } from '../../functions/pop3/reply-decoder';
import { RecordingSink } from '../support/recording-sink';
import {
  applyMutation,
  bytes,
  capaBody,
  chunk,
  listingBody,
  modelReplies,
  mutation,
  referenceDecode,
  splits,
  stuff,
} from './wire';

/**
 * The in-process half of the fuzz suite: the reply decoder and the parsers of what the server
 * says, fed well-formed and mutated server bytes. Each property is a fast-check property plus the
 * share of the case count it gets; the jest short form and `npm run fuzz` run the same list.
 *
 * Invariants:
 * - nothing but a Pop3Error with a catalogued code is ever thrown;
 * - the decoder agrees with the reference decoder (wire.ts) on every stream, mutated or not,
 *   however it is chunked: the same replies, the same body bytes, the same error;
 * - memory is bounded: a status line is never held beyond `maxLineLength` octets, a body never
 *   delivered beyond `maxBodyBytes` (the client's caps: DecoderLimits, Pop3ClientOptions
 *   maxLineLength / maxMessageBytes / maxListingBytes);
 * - an unmutated body comes back byte-exact; a mutated one is byte-exact to what the bytes mean.
 */

export interface FuzzProperty {
  readonly name: string;
  /** Share of the run's cases. */
  readonly weight: number;
  // Each property has its own argument tuple; the runner only passes it to fast-check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly property: fc.IPropertyWithHooks<any>;
}

/** Small limits, so that the caps are reached by fuzzed input. */
const LIMITS: DecoderLimits = { maxLineLength: 512, maxBodyBytes: 8 * 1024, maxDiscardBytes: 4 * 1024 };

function expectPop3Error(error: unknown, context: string): asserts error is Pop3Error {
  if (!(error instanceof Pop3Error) || !(error.code in ERROR_CODES)) {
    throw new Error(`${context}: threw something other than a catalogued Pop3Error: ${String(error)}`, {
      cause: error,
    });
  }
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e)
    throw new Error(`${what} differ:\n  actual   ${a.slice(0, 1500)}\n  expected ${e.slice(0, 1500)}`);
}

/** Feeds chunks to a fresh decoder; stops at the first throw, as the client does. */
function decodeChunks(chunks: readonly Buffer[], script: ReturnType<typeof scriptOf>) {
  const sink = new RecordingSink(script);
  const decoder = new ReplyDecoder(sink, LIMITS);
  let error: string | undefined;
  let held: Buffer | undefined;
  for (const part of chunks) {
    try {
      decoder.push(part);
    } catch (thrown) {
      expectPop3Error(thrown, 'ReplyDecoder.push');
      error = thrown.code;
      break;
    }
    // Bounded memory: what the decoder holds of an unfinished status line stays within the cap.
    const partial = (decoder as unknown as { partialLineLength: number }).partialLineLength;
    if (partial > LIMITS.maxLineLength) throw new Error(`decoder holds ${partial} octets of a status line`);
  }
  if (script[script.length - 1] === 'halt' && error === undefined && sink.replies.length === script.length) {
    held = decoder.resume();
  }
  const violations = sink.violations.filter((v) => !v.startsWith('unscripted status line'));
  if (violations.length > 0) throw new Error(`decoder misused its sink: ${violations.join('; ')}`);
  for (const reply of sink.recorded) {
    if ((reply.body?.length ?? 0) > LIMITS.maxBodyBytes) throw new Error('a body exceeded maxBodyBytes');
  }
  return {
    events: sink.events,
    ...(error ? { error } : {}),
    ...(held && held.length > 0 ? { held: held.toString('latin1') } : {}),
  };
}

function scriptOf(replies: ReadonlyArray<{ expectation: 'multi' | 'single' | 'halt' }>) {
  return replies.map((r) => r.expectation);
}

const decoderAgreesWithReference: FuzzProperty = {
  name: 'decoder: mutated replies, any chunking, agree with the reference decoder',
  weight: 40,
  property: fc.property(
    modelReplies,
    fc.array(mutation, { maxLength: 4 }),
    splits,
    (replies, mutations, fractions) => {
      const clean = bytes(...replies.map((r) => r.wire));
      const wire = mutations.reduce(applyMutation, clean);
      const script = scriptOf(replies);
      const reference = referenceDecode(wire, script, LIMITS);
      const expected = {
        events: reference.events,
        ...(reference.error ? { error: reference.error } : {}),
        ...(reference.held && reference.held.length > 0 ? { held: reference.held.toString('latin1') } : {}),
      };
      const whole = decodeChunks([wire], script);
      same(whole, expected, 'decoder (whole stream) and reference');
      same(decodeChunks(chunk(wire, fractions), script), expected, 'decoder (chunked) and reference');
      if (wire.length <= 1500) {
        const single = [...wire].map((octet) => Buffer.from([octet]));
        same(decodeChunks(single, script), expected, 'decoder (byte by byte) and reference');
      }
      if (mutations.length === 0) {
        // Unmutated: every body comes back exactly as the server meant it.
        const bodies = new RecordingSink(script);
        new ReplyDecoder(bodies, { ...LIMITS, maxBodyBytes: Number.MAX_SAFE_INTEGER }).push(wire);
        const got = bodies.recorded
          .filter((r) => r.body !== undefined)
          .map((r) => r.body!.toString('latin1'));
        const want = replies.filter((r) => r.body !== undefined).map((r) => r.body!.toString('latin1'));
        same(got, want, 'unmutated bodies');
      }
    },
  ),
};

const referenceIsRoundTrip: FuzzProperty = {
  name: 'reference decoder: an unmutated stuffed body decodes to itself',
  weight: 4,
  property: fc.property(modelReplies, (replies) => {
    for (const reply of replies) {
      if (reply.body === undefined) continue;
      const got = referenceDecode(bytes('+OK\r\n', stuff(reply.body)), ['multi'], {
        maxLineLength: 512,
        maxBodyBytes: Number.MAX_SAFE_INTEGER,
        maxDiscardBytes: 0,
      });
      const data = got.events.find((e) => e.type === 'data');
      same(data && data.type === 'data' ? data.bytes : '', reply.body.toString('latin1'), 'reference body');
    }
  }),
};

/** Lines of a listing as a server meant them, when they are well-formed. */
function wellFormedListing(body: Buffer, sizes: boolean): Array<{ n: number; rest: string }> | undefined {
  const out: Array<{ n: number; rest: string }> = [];
  for (const raw of body.toString('latin1').split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line) continue;
    const m = /^([0-9]+)\s+(.*)$/.exec(line);
    if (!m || Number(m[1]) < 1 || !Number.isSafeInteger(Number(m[1]))) return undefined;
    const rest = m[2]!.trim();
    if (sizes) {
      const size = rest.split(/\s+/)[0]!;
      if (!/^[0-9]+$/.test(size) || !Number.isSafeInteger(Number(size))) return undefined;
      out.push({ n: Number(m[1]), rest: String(Number(size)) });
    } else out.push({ n: Number(m[1]), rest });
  }
  return out;
}

const listingParsers: FuzzProperty = {
  name: 'LIST/UIDL parsers: wrong counts, odd numbers and UIDs give entries or EPROTOCOL',
  weight: 20,
  property: fc.property(listingBody, fc.array(mutation, { maxLength: 2 }), (clean, mutations) => {
    const body = mutations.reduce(applyMutation, clean);
    for (const sizes of [true, false]) {
      const expected = wellFormedListing(body, sizes);
      let got: Array<{ n: number; rest: string }> | undefined;
      try {
        got = sizes
          ? parseList(body).map((e) => ({ n: e.messageNumber, rest: String(e.size) }))
          : parseUidl(body).map((e) => ({ n: e.messageNumber, rest: e.uid }));
      } catch (error) {
        expectPop3Error(error, sizes ? 'parseList' : 'parseUidl');
        if (error.code !== 'EPROTOCOL') throw new Error(`listing error ${error.code}`);
        got = undefined;
      }
      same(got, expected, sizes ? 'parseList' : 'parseUidl');
    }
  }),
};

const singleLineParsers: FuzzProperty = {
  name: 'STAT and UIDL n parsers: digits or EPROTOCOL',
  weight: 10,
  property: fc.property(
    fc.oneof(
      fc.string({ maxLength: 40 }),
      fc
        .tuple(
          fc.constantFrom('', ' ', '  '),
          fc.constantFrom('1', '0', '-1', '1e3', 'x', '007', '99999999999999999999'),
        )
        .chain(([pad, first]) =>
          fc
            .constantFrom('', ' 320', ' uid-1', ' a b', '  ', ' 0x10', ' \xff')
            .map((rest) => `${pad}${first}${rest}`),
        ),
    ),
    (text) => {
      for (const [name, parse] of [
        ['parseStat', () => parseStat(text)],
        ['parseUidlLine', () => parseUidlLine(text)],
      ] as const) {
        let result: { count?: number; size?: number; messageNumber?: number; uid?: string };
        try {
          result = parse();
        } catch (error) {
          expectPop3Error(error, name);
          continue;
        }
        for (const value of [result.count, result.size, result.messageNumber]) {
          if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
            throw new Error(`${name}(${JSON.stringify(text)}) gave a number that is not a count: ${value}`);
          }
        }
        if (result.messageNumber !== undefined && (result.messageNumber < 1 || !result.uid)) {
          throw new Error(`${name}(${JSON.stringify(text)}) gave ${JSON.stringify(result)}`);
        }
      }
    },
  ),
};

const capabilities: FuzzProperty = {
  name: 'CAPA parser: any bytes give upper-case tags and digit-only delays',
  weight: 8,
  property: fc.property(
    fc.oneof(
      capaBody,
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    ),
    (body) => {
      const capa = Capabilities.parse(body);
      for (const tag of capa.tags) {
        if (tag !== tag.toUpperCase() || tag === '' || /\s/.test(tag))
          throw new Error(`odd tag ${JSON.stringify(tag)}`);
      }
      for (const value of [capa.loginDelaySeconds, capa.expireDays]) {
        if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
          throw new Error(`odd number ${value}`);
      }
      for (const mech of capa.saslMechanisms)
        if (mech !== mech.toUpperCase()) throw new Error('odd mechanism');
    },
  ),
};

const greetings: FuzzProperty = {
  name: 'greeting and APOP banner: any line gives a status or EPROTOCOL, and a timestamp or none',
  weight: 12,
  property: fc.property(
    fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc
        .tuple(
          fc.constantFrom('+OK', '+ok', '-ERR', '+', '', '*', '+OK[', 'OK'),
          fc.constantFrom(' ', '', '  '),
          fc.constantFrom('<', '<<', '', '<>', '<@>', '<a@b', 'a@b>', '<1.2@host>', '<\x00@\xff>', '<a b@c>'),
          fc.string({ maxLength: 30 }),
          fc.constantFrom('>', '', '>>', '@x>'),
          fc.constantFrom('\r\n', '\n', '', '\r'),
        )
        .map((parts) => Buffer.from(parts.join(''), 'latin1')),
    ),
    (line) => {
      let status;
      try {
        status = parseStatusLine(line);
      } catch (error) {
        expectPop3Error(error, 'parseStatusLine');
        if (error.code !== 'EPROTOCOL') throw new Error(`status line error ${error.code}`);
        return;
      }
      const upper = line.toString('latin1').toUpperCase();
      const kind = upper.startsWith('+OK') ? 'ok' : upper.startsWith('-ERR') ? 'err' : 'continuation';
      if (status.kind !== kind) throw new Error(`status kind ${status.kind}, expected ${kind}`);
      if (/[\r\n]$/.test(status.text)) throw new Error('status text keeps its line ending');
      const stamp = apopTimestamp(status.text);
      if (stamp !== undefined) {
        // RFC 1939 §7: a msg-id: `<`, printable ASCII without spaces or angle brackets, `>`.
        if (!/^<[\x21-\x3b\x3d\x3f-\x7e]+>$/.test(stamp))
          throw new Error(`odd APOP timestamp ${JSON.stringify(stamp)}`);
        if (!status.text.includes(stamp)) throw new Error('APOP timestamp not from the banner');
      }
    },
  ),
};

const longListing: FuzzProperty = {
  name: 'a 100,000-line LIST decodes and parses whole, in bounded time, however chunked',
  weight: 0,
  property: fc.property(
    fc.array(fc.integer({ min: 1, max: 65536 }), { minLength: 1, maxLength: 8 }),
    (sizes) => {
      const lines: string[] = [];
      for (let n = 1; n <= 100_000; n++) lines.push(`${n} ${1000 + (n % 977)}\r\n`);
      const wire = bytes('+OK 100000 messages\r\n', stuff(Buffer.from(lines.join(''), 'latin1')));
      const sink = new RecordingSink(['multi']);
      const decoder = new ReplyDecoder(sink, {
        maxLineLength: 512,
        maxBodyBytes: 64 * 1024 * 1024,
        maxDiscardBytes: 0,
      });
      const started = Date.now();
      let pos = 0;
      for (let i = 0; pos < wire.length; i++) {
        const size = sizes[i % sizes.length]!;
        decoder.push(wire.subarray(pos, pos + size));
        pos += size;
      }
      const entries = parseList(sink.recorded[0]!.body!);
      const ms = Date.now() - started;
      if (entries.length !== 100_000 || entries[99_999]!.messageNumber !== 100_000) {
        throw new Error(`parsed ${entries.length} entries`);
      }
      if (ms > 10_000) throw new Error(`100,000-line LIST took ${ms} ms`);
    },
  ),
};

export const DECODER_PROPERTIES: readonly FuzzProperty[] = [
  decoderAgreesWithReference,
  referenceIsRoundTrip,
  listingParsers,
  singleLineParsers,
  capabilities,
  greetings,
];

/** Run a handful of times whatever the count: each case is 100,000 lines. */
export const LONG_LISTING = longListing;

/** Splits `runs` cases among the properties by weight (at least one each). */
export function runsFor(property: FuzzProperty, runs: number): number {
  const total = DECODER_PROPERTIES.reduce((sum, p) => sum + p.weight, 0);
  return Math.max(1, Math.round((runs * property.weight) / total));
}
