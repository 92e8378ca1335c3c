// Named imports: the package's ESM build (which a bundler picks) does not attach them to the class
// as its CommonJS build does.
import PostalMime, { addressParser, decodeWords as decodeEncodedWords } from 'postal-mime';
import type { Address, MessageMetadata } from './events';
import type { Spool } from './spool';

/**
 * Event metadata read from a message: addresses and subject decoded to Unicode (RFC 2047 encoded
 * words, legacy charsets such as ISO-2022-JP and Shift_JIS), Date, Message-ID, and attachments when
 * the message is small enough to parse whole. Metadata is a courtesy: any failure here yields
 * `metadata: 'unavailable'` and never stops a message from being archived or deleted.
 */

export type { MessageMetadata };

export interface MetadataLimits {
  /** Messages up to this size (held in memory) are parsed whole, for the attachment list. */
  readonly fullParseMaxBytes: number;
  /** The header block is looked for in this many leading bytes. */
  readonly headerMaxBytes: number;
}

export const DEFAULT_METADATA_LIMITS: MetadataLimits = {
  fullParseMaxBytes: 8 * 1024 * 1024,
  headerMaxBytes: 256 * 1024,
};

export const UNAVAILABLE: MessageMetadata = {
  metadata: 'unavailable',
  subject: null,
  from: null,
  to: [],
  cc: [],
  date: null,
  messageId: null,
  attachments: null,
};

export async function readMetadata(spool: Spool, limits = DEFAULT_METADATA_LIMITS): Promise<MessageMetadata> {
  try {
    const whole = spool.buffer !== undefined && spool.size <= limits.fullParseMaxBytes;
    const head = whole ? spool.buffer! : await spool.head(limits.headerMaxBytes);
    // Performance: postal-mime's parse of a whole 20 KB text message costs ~1.5 ms of CPU (it
    // gathers every body line into a Blob), and even a header block alone goes through a Blob,
    // whose read is a job in Node's thread pool, queued behind the archive's fsyncs: metadata took
    // ~200 ms of a 1000-message drain. Every field but the attachment list comes from the header
    // section, read here the way postal-mime reads it (readHeaderSection), with postal-mime's own
    // RFC 2047 and address parsers. A message over `fullParseMaxBytes` gets no attachment list, and
    // a single text/plain or text/html part without Content-Disposition is body text to
    // postal-mime, never an attachment: for those the header section is the complete answer.
    // Anything else is parsed whole by postal-mime, as before.
    const header = readHeaderSection(head);
    if (!whole || isSingleTextPart(header)) {
      return {
        metadata: whole ? 'complete' : 'headers',
        ...headerFields(header),
        attachments: whole ? [] : null,
      };
    }
    const email = await PostalMime.parse(spool.buffer!, { attachmentEncoding: 'arraybuffer' });
    return {
      metadata: 'complete',
      subject: email.subject ?? null,
      from: firstMailbox(email.from),
      to: mailboxes(email.to),
      cc: mailboxes(email.cc),
      date: isoDate(email.date),
      messageId: email.messageId ?? null,
      attachments: email.attachments.map((a) => ({
        filename: a.filename,
        mimeType: a.mimeType,
        size: typeof a.content === 'string' ? Buffer.byteLength(a.content) : a.content.byteLength,
      })),
    };
  } catch (error) {
    return { ...UNAVAILABLE, metadataError: error instanceof Error ? error.message : String(error) };
  }
}

/*
 * The header section as postal-mime 4 reads it (mime-node.js `feed` and `processHeaders`,
 * postal-mime.js `readLine` and `buildMessage`), for the fields the event carries. Kept in step
 * with it on purpose, so that a message gets the same metadata whichever path it takes; the
 * metadata tests run both paths.
 */

/** postal-mime decodes header lines as UTF-8, keeping a leading U+FEFF as a character. */
const HEADER_DECODER = new TextDecoder('utf-8', { ignoreBOM: true });
/** postal-mime's default `maxHeadersSize`. */
const MAX_HEADERS_SIZE = 2 * 1024 * 1024;

interface HeaderField {
  /** Lower case, surrounding SP/HTAB removed. */
  readonly key: string;
  /** Unfolded, CR/LF runs as one space, surrounding SP/HTAB removed. */
  readonly value: string;
}

/**
 * The header fields of `bytes`, up to the first empty line (or the end): lines end at LF, trailing
 * CRs are dropped, a line starting with SP or HTAB continues the field before it.
 */
function readHeaderSection(bytes: Buffer): HeaderField[] {
  const groups: string[][] = [];
  let size = 0;
  for (let pos = 0; pos < bytes.length;) {
    const lf = bytes.indexOf(0x0a, pos);
    const next = lf === -1 ? bytes.length : lf + 1;
    let end = lf === -1 ? bytes.length : lf;
    while (end > pos && bytes[end - 1] === 0x0d) end -= 1;
    if (end === pos) break; // the empty line that ends the header section
    size += end - pos;
    if (size > MAX_HEADERS_SIZE) throw new Error(`Maximum header size of ${MAX_HEADERS_SIZE} bytes exceeded`);
    const line = HEADER_DECODER.decode(bytes.subarray(pos, end));
    const first = line.charCodeAt(0);
    if (groups.length > 0 && (first === 0x20 || first === 0x09)) groups[groups.length - 1]!.push(line);
    else groups.push([line]);
    pos = next;
  }
  return groups.map((parts) => {
    const line = parts.join('');
    const sep = line.indexOf(':');
    return {
      key: trimWsp(sep < 0 ? line : line.slice(0, sep)).toLowerCase(),
      value: sep < 0 ? '' : trimWsp(line.slice(sep + 1).replace(/[\r\n]+/g, ' ')),
    };
  });
}

/** Removes SP and HTAB (only those) from both ends. */
function trimWsp(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start += 1;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end -= 1;
  return text.slice(start, end);
}

/**
 * True when the section describes one text/plain or text/html part (no Content-Type means
 * text/plain) and has no Content-Disposition: postal-mime then takes the body as text and lists no
 * attachment. Conservative: any Content-Disposition, or a media type written in any other way
 * (with a comment, say), answers false, and the message gets the full parse.
 */
function isSingleTextPart(fields: readonly HeaderField[]): boolean {
  if (fields.some((f) => f.key === 'content-disposition')) return false;
  // The first Content-Type counts, as in postal-mime.
  const type = fields.find((f) => f.key === 'content-type');
  return type === undefined || /^text\/(plain|html)[ \t]*(;|$)/i.test(type.value);
}

/** What postal-mime's `buildMessage` makes of these fields, in the event's shape. */
function headerFields(fields: readonly HeaderField[]): Omit<MessageMetadata, 'metadata' | 'attachments'> {
  // The first field of a name counts (an empty one included), as in postal-mime; To and Cc
  // gather every field of the name.
  const first = (key: string) => fields.find((f) => f.key === key)?.value;
  const all = (key: string) =>
    fields.filter((f) => f.key === key && f.value).flatMap((f) => parseAddresses(f.value));
  const from = first('from');
  const subject = first('subject');
  const messageId = first('message-id');
  return {
    subject: subject ? decodeWords(subject) : null,
    from: from ? firstMailbox(parseAddresses(from)[0]) : null,
    to: mailboxes(all('to')),
    cc: mailboxes(all('cc')),
    date: isoDate(first('date')),
    messageId: messageId ? decodeWords(messageId) : null,
  };
}

/** postal-mime's RFC 2047 decoding; text without `=?` has no encoded word and comes back as is. */
function decodeWords(value: string): string {
  return value.includes('=?') ? decodeEncodedWords(value) : value;
}

/**
 * postal-mime's address parser, remembering recent answers (performance: in a mailbox the same
 * To and From values come back message after message, and parsing them was a tenth of the
 * metadata's cost). The answers are only read, never modified. Bounded: at most
 * ADDRESS_CACHE_SIZE values of at most 1000 characters; the oldest is forgotten first.
 */
function parseAddresses(value: string): readonly ParsedAddress[] {
  const cached = addressCache.get(value);
  if (cached) return cached;
  const parsed = addressParser(value);
  if (value.length <= 1000) {
    if (addressCache.size >= ADDRESS_CACHE_SIZE) addressCache.delete(addressCache.keys().next().value!);
    addressCache.set(value, parsed);
  }
  return parsed;
}

const ADDRESS_CACHE_SIZE = 256;
const addressCache = new Map<string, readonly ParsedAddress[]>();

type ParsedAddress = { name: string; address?: string | undefined; group?: ParsedAddress[] | undefined };

function mailboxes(list: readonly ParsedAddress[] | undefined): Address[] {
  const out: Address[] = [];
  for (const entry of list ?? []) {
    if (entry.group) out.push(...mailboxes(entry.group));
    else if (entry.address !== undefined) out.push({ name: entry.name, address: entry.address });
  }
  return out;
}

function firstMailbox(from: ParsedAddress | undefined): Address | null {
  return from ? (mailboxes([from])[0] ?? null) : null;
}

function isoDate(value: string | undefined): string | null {
  if (!value) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}
