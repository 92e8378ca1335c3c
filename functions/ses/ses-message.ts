/**
 * What the SES inbound path reads from an object SES's S3 action wrote: whether it is a message at
 * all, and who it was delivered to. The bytes are only read, never changed: the archive gets the
 * object exactly as SES wrote it, SES's own header fields included.
 *
 * An object SES writes is the message as received over SMTP with SES's trace fields prepended
 * (RFC 5321 §4.4 trace information, then SES's verdicts):
 *
 *   Return-Path: <sender@example.net>
 *   Received: from mail.example.net (mail.example.net [192.0.2.1])
 *    by inbound-smtp.eu-west-1.amazonaws.com with SMTP id 8d9f…
 *    for support@example.com;
 *    Mon, 07 Dec 2026 13:00:00 +0000 (UTC)
 *   X-SES-Spam-Verdict: PASS
 *   X-SES-Virus-Verdict: PASS
 *   Received-SPF: …
 *   Authentication-Results: amazonses.com; …
 *   X-SES-RECEIPT: …
 *   X-SES-DKIM-SIGNATURE: …
 *   <the message's own header fields, blank line, body>
 */

/** A header field as it stands, unfolded (RFC 5322 §2.2.3), name in lower case. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

export interface ValidityLimits {
  /** Larger objects are not valid messages here (SES itself bounces mail over 40 MB). */
  readonly maxMessageBytes: number;
  /** The header section must end within this many leading bytes. */
  readonly maxHeaderBytes: number;
}

export const DEFAULT_VALIDITY_LIMITS: ValidityLimits = {
  maxMessageBytes: 40 * 1024 * 1024,
  maxHeaderBytes: 256 * 1024,
};

export type Inspection =
  | { readonly valid: true; readonly fields: readonly HeaderField[] }
  | { readonly valid: false; readonly reason: string };

/**
 * Whether `bytes` is a message: not empty, within the size limit, and starting with a header
 * section — header fields (RFC 5322 §2.2: a name of printable ASCII but ":", then ":"), each
 * possibly folded onto lines that start with SP or HTAB, up to an empty line or the end of the
 * object (a message may have no body, §3.5), within `maxHeaderBytes`. Lines end at LF, with or
 * without CR. Nothing else is required: SES accepted the message, and refusing it here for a
 * missing Date or From would only keep it out of the archive.
 */
export function inspectMessage(bytes: Buffer, limits: ValidityLimits = DEFAULT_VALIDITY_LIMITS): Inspection {
  if (bytes.length === 0) return { valid: false, reason: 'the object is empty' };
  if (bytes.length > limits.maxMessageBytes) {
    return {
      valid: false,
      reason: `the object is ${bytes.length} bytes, over the ${limits.maxMessageBytes}-byte limit`,
    };
  }
  const fields: HeaderField[] = [];
  let current: string[] | undefined;
  let currentName = '';
  const flush = () => {
    if (current) fields.push({ name: currentName, value: unfold(current) });
  };
  for (let pos = 0; pos < bytes.length;) {
    const lf = bytes.indexOf(0x0a, pos);
    const next = lf === -1 ? bytes.length : lf + 1;
    if (next > limits.maxHeaderBytes) {
      return {
        valid: false,
        reason: `no end of the header section in the first ${limits.maxHeaderBytes} bytes`,
      };
    }
    let end = lf === -1 ? bytes.length : lf;
    if (end > pos && bytes[end - 1] === 0x0d) end -= 1;
    if (end === pos) {
      if (current === undefined) return { valid: false, reason: 'the object starts with an empty line' };
      break; // the empty line that ends the header section
    }
    const first = bytes[pos]!;
    if (first === 0x20 || first === 0x09) {
      if (current === undefined) {
        return { valid: false, reason: 'the object starts with a folded line, not a header field' };
      }
      current.push(bytes.toString('utf8', pos, end));
    } else {
      const colon = fieldNameEnd(bytes, pos, end);
      if (colon < 0) {
        const line = fields.length + (current ? 2 : 1);
        return { valid: false, reason: `line ${line} of the header section is not a header field` };
      }
      flush();
      currentName = bytes.toString('latin1', pos, colon).toLowerCase();
      current = [bytes.toString('utf8', colon + 1, end)];
    }
    pos = next;
  }
  flush();
  return { valid: true, fields };
}

/** The index of the ":" ending a field name that starts at `pos`, or -1 (RFC 5322 §3.6.8 ftext). */
function fieldNameEnd(bytes: Buffer, pos: number, end: number): number {
  for (let i = pos; i < end; i++) {
    const byte = bytes[i]!;
    if (byte === 0x3a) return i > pos ? i : -1;
    if (byte < 0x21 || byte > 0x7e) return -1;
  }
  return -1;
}

/** RFC 5322 §2.2.3: unfolding removes the CRLF before each folded line; surrounding WSP trimmed. */
function unfold(lines: readonly string[]): string {
  return lines
    .join(' ')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/**
 * The envelope recipient SES names in the trace field it adds, when it names one.
 *
 * SES prepends one Received field (RFC 5321 §4.4), `by inbound-smtp.<region>.amazonaws.com`; its
 * optional FOR clause carries the envelope recipient (RCPT TO), Bcc recipients included. SES writes
 * it when the delivery has one recipient. Only that topmost field is SES's: Received fields further
 * down were written by the sending side and may name anything, so they are not read.
 */
export function sesEnvelopeRecipient(fields: readonly HeaderField[]): string | undefined {
  if (!receivedBySes(fields)) return undefined;
  const received = fields.find((f) => f.name === 'received')!;
  // `for` Path / Mailbox, then ";" and the date (RFC 5321 §4.4 For-clause).
  const match = /\sfor\s+<?([^\s<>;@]+@[^\s<>;@]+?)>?\s*;/i.exec(received.value);
  return match ? match[1] : undefined;
}

/** Whether the topmost Received field is SES's (the object was written by SES receiving). */
export function receivedBySes(fields: readonly HeaderField[]): boolean {
  const received = fields.find((f) => f.name === 'received');
  return received !== undefined && SES_RECEIVED.test(received.value);
}

/** The `by` clause of SES receiving's trace field: `by inbound-smtp.<region>.amazonaws.com`. */
const SES_RECEIVED = /\bby inbound-smtp\.[a-z0-9-]+\.amazonaws\.com\b/i;
