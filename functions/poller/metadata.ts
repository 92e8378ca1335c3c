import PostalMime from 'postal-mime';
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
    const bytes = whole ? spool.buffer! : headerBlock(await spool.head(limits.headerMaxBytes));
    const email = await PostalMime.parse(bytes, { attachmentEncoding: 'arraybuffer' });
    return {
      metadata: whole ? 'complete' : 'headers',
      subject: email.subject ?? null,
      from: firstMailbox(email.from),
      to: mailboxes(email.to),
      cc: mailboxes(email.cc),
      date: isoDate(email.date),
      messageId: email.messageId ?? null,
      attachments: whole
        ? email.attachments.map((a) => ({
            filename: a.filename,
            mimeType: a.mimeType,
            size: typeof a.content === 'string' ? Buffer.byteLength(a.content) : a.content.byteLength,
          }))
        : null,
    };
  } catch (error) {
    return { ...UNAVAILABLE, metadataError: error instanceof Error ? error.message : String(error) };
  }
}

/** The bytes up to and including the blank line that ends the header section (RFC 5322 §2.1). */
function headerBlock(head: Buffer): Buffer {
  const crlf = head.indexOf('\r\n\r\n');
  if (crlf !== -1) return head.subarray(0, crlf + 4);
  const lf = head.indexOf('\n\n');
  return lf !== -1 ? head.subarray(0, lf + 2) : head;
}

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
