import { Pop3Error } from './errors';
import { printable } from './reply-decoder';

/**
 * The transaction-state replies with numbers in them (RFC 1939 §5): STAT's status line, LIST and
 * UIDL listings, and UIDL for one message. Strict about digits, since a broken server's `1e3` or
 * empty field must not become a count.
 *
 * Each parser takes a `scrub` applied to server text before an error quotes it: the client removes
 * its secrets, which a hostile server may echo in a listing (found by the fuzz suite, test/fuzz).
 */

/** Server text as it may appear in an error message. */
type Scrub = (text: string) => string;
const asIs: Scrub = (text) => text;

export interface MailboxStat {
  readonly count: number;
  readonly size: number;
}

export interface ListEntry {
  readonly messageNumber: number;
  /** Size as the server states it: a hint, never a byte count to read by (servers get it wrong). */
  readonly size: number;
}

export interface UidlEntry {
  readonly messageNumber: number;
  readonly uid: string;
}

/** STAT's `+OK count size`. */
export function parseStat(text: string, scrub: Scrub = asIs): MailboxStat {
  // Trim first: a server padding with spaces (`+OK  2 320`) otherwise yields an empty first field,
  // which Number() silently read as a count of 0 (and the message count as the size).
  const [count, size] = text.trim().split(/\s+/).map(decimal);
  if (!isCount(count) || !isCount(size)) {
    throw new Pop3Error('EPROTOCOL', `malformed STAT reply: ${printable(scrub(text))}`, { command: 'STAT' });
  }
  return { count, size };
}

/** A LIST body: `n size` per line. */
export function parseList(body: Buffer, scrub: Scrub = asIs): ListEntry[] {
  return parseListing(body, 'LIST', scrub).map(([messageNumber, rest]) => {
    const size = decimal(rest.split(/\s+/)[0]);
    if (!isCount(size)) throw new Pop3Error('EPROTOCOL', `malformed LIST line for ${messageNumber}`);
    return { messageNumber, size };
  });
}

/** A UIDL body: `n uid` per line. */
export function parseUidl(body: Buffer, scrub: Scrub = asIs): UidlEntry[] {
  return parseListing(body, 'UIDL', scrub).map(([messageNumber, rest]) => ({ messageNumber, uid: rest }));
}

/**
 * UIDL for one message: `+OK n uid` (RFC 1939 §7). Checked as strictly as a listing line: a bare
 * Number() turned `+OK` alone into message 0 with an empty UID, and `+OK x y` into NaN (found by
 * the fuzz suite, test/fuzz).
 */
export function parseUidlLine(text: string, scrub: Scrub = asIs): UidlEntry {
  const match = /^([0-9]+)\s+(\S.*)$/.exec(text.trim());
  const n = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(n) || n < 1) {
    throw new Pop3Error('EPROTOCOL', `malformed UIDL reply: ${printable(scrub(text))}`, { command: 'UIDL' });
  }
  return { messageNumber: n, uid: match[2]!.trim() };
}

/** Lines of a LIST/UIDL body as [message number, rest of line]. */
function parseListing(body: Buffer, verb: string, scrub: Scrub): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  // latin1 keeps every octet as one character, so odd bytes in a UIDL survive to be judged later.
  for (const raw of body.toString('latin1').split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line) continue;
    const match = /^(\d+)\s+(.*)$/.exec(line);
    const n = Number(match?.[1]);
    if (!match || !Number.isSafeInteger(n) || n < 1) {
      throw new Pop3Error('EPROTOCOL', `malformed ${verb} line: ${printable(scrub(line))}`, {
        command: verb,
      });
    }
    out.push([n, match[2]!.trim()]);
  }
  return out;
}

/**
 * RFC 1939 counts and sizes are plain digits. Number() alone also took `1e3`, `0x10` or `` (as 0)
 * from a broken server; anything but digits becomes NaN here, which `isCount` rejects.
 */
function decimal(text: string | undefined): number {
  return text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : NaN;
}

function isCount(value: number | undefined): value is number {
  return value !== undefined && Number.isSafeInteger(value) && value >= 0;
}
