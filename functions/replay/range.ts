import { decodeWords } from 'postal-mime';
import { ReplayError } from './errors';

/**
 * Which archived messages a replay re-emits. Every condition given must hold (AND):
 * - `accounts`: the accounts' folders (none given: every account in the archive);
 * - `since` ≤ archive time < `until`: the time the archive stored the message (its original
 *   event's `archivedAt`), not the message's Date header nor when the server received it;
 * - `keyPrefix`: the archive key (`<account>/<sha256>.eml`) starts with it;
 * - `headers`: for each filter, some header field of that name has a decoded value (RFC 2047
 *   encoded words decoded, folding undone) containing the text, ignoring case.
 */
export interface ReplayRange {
  readonly accounts: readonly string[];
  readonly since?: Date;
  readonly until?: Date;
  readonly keyPrefix?: string;
  readonly headers: readonly HeaderFilter[];
}

export interface HeaderFilter {
  /** Lower case. */
  readonly name: string;
  /** Lower case. */
  readonly text: string;
}

/** `YYYY-MM-DD`, or a date-time `YYYY-MM-DDTHH:MM[:SS[.sss]]` with an optional `Z` or `±HH:MM`. */
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * `--since` / `--until`: a date (midnight UTC at its start) or a date-time, UTC unless it carries an
 * offset. Anything else (including a date that does not exist, such as 2026-02-30) is refused.
 */
export function parseTime(option: string, text: string): Date {
  let iso: string | undefined;
  if (DATE.test(text)) iso = `${text}T00:00:00.000Z`;
  else {
    const m = DATE_TIME.exec(text);
    if (m) {
      const offset = (m[3] ?? 'Z').toUpperCase();
      iso = `${m[1]}T${m[2]}${offset === 'Z' ? 'Z' : offset.length === 5 ? `${offset.slice(0, 3)}:${offset.slice(3)}` : offset}`;
    }
  }
  const date = iso === undefined ? undefined : new Date(iso);
  // Date rolls 2026-02-30 over to March: check that the calendar date came back unchanged.
  if (date === undefined || Number.isNaN(date.getTime()) || !sameCalendarDate(iso!, text)) {
    throw new ReplayError(
      'EUSAGE',
      `${option} expects a date (2026-12-01) or a date-time (2026-12-01T08:30:00Z, 2026-12-01T09:30+01:00), not "${text}"`,
    );
  }
  return date;
}

function sameCalendarDate(iso: string, text: string): boolean {
  const [y, mo, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  return (
    probe.getUTCFullYear() === y &&
    probe.getUTCMonth() === mo - 1 &&
    probe.getUTCDate() === d &&
    iso.length > 0
  );
}

/** `--header 'Name: text'`: a field name (RFC 5322 §3.6.8 ftext) and the text to look for. */
export function parseHeaderFilter(text: string): HeaderFilter {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  const needle = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name) || needle === '') {
    throw new ReplayError('EUSAGE', `--header expects "Name: text" (e.g. "Subject: invoice"), not "${text}"`);
  }
  return { name: name.toLowerCase(), text: needle.toLowerCase() };
}

/** Whether an archive time is inside the window (`since` inclusive, `until` exclusive). */
export function inWindow(range: ReplayRange, archivedAt: Date): boolean {
  const t = archivedAt.getTime();
  return (
    (range.since === undefined || t >= range.since.getTime()) &&
    (range.until === undefined || t < range.until.getTime())
  );
}

/**
 * The part of `keyPrefix` that applies inside `accountId`'s folder: the whole prefix when it
 * reaches into the folder, none when it covers the whole folder, `null` when the folder is outside
 * it (the account has nothing in range).
 */
export function prefixWithin(range: ReplayRange, accountId: string): string | undefined | null {
  const prefix = range.keyPrefix;
  if (prefix === undefined || prefix === '') return undefined;
  const folder = `${accountId}/`;
  if (prefix.startsWith(folder)) return prefix;
  return folder.startsWith(prefix) ? undefined : null;
}

/** Whether the message's header section (in `head`) passes every header filter. */
export function matchesHeaders(filters: readonly HeaderFilter[], head: Buffer): boolean {
  if (filters.length === 0) return true;
  const fields = headerFields(head);
  return filters.every((filter) =>
    fields.some((f) => f.name === filter.name && f.value.toLowerCase().includes(filter.text)),
  );
}

const UTF8 = new TextDecoder('utf-8');

/**
 * The header fields of a message (RFC 5322 §2.2): lines up to the first empty one, a line starting
 * with SP or HTAB continuing the field before it (§2.2.3 unfolding), values decoded from RFC 2047
 * encoded words. Octets are read as UTF-8 (RFC 6532), as the metadata does.
 */
function headerFields(head: Buffer): Array<{ name: string; value: string }> {
  const lines: string[] = [];
  for (let pos = 0; pos < head.length;) {
    const lf = head.indexOf(0x0a, pos);
    let end = lf === -1 ? head.length : lf;
    const next = lf === -1 ? head.length : lf + 1;
    if (end > pos && head[end - 1] === 0x0d) end -= 1;
    if (end === pos) break;
    const line = UTF8.decode(head.subarray(pos, end));
    const first = line.charCodeAt(0);
    if (lines.length > 0 && (first === 0x20 || first === 0x09)) lines[lines.length - 1] += line;
    else lines.push(line);
    pos = next;
  }
  return lines.flatMap((line) => {
    const colon = line.indexOf(':');
    if (colon <= 0) return [];
    const raw = line.slice(colon + 1).trim();
    let value = raw;
    try {
      if (raw.includes('=?')) value = decodeWords(raw);
    } catch {
      // An encoded word that does not decode is matched as written.
    }
    return [{ name: line.slice(0, colon).trim().toLowerCase(), value }];
  });
}
