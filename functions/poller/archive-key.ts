/**
 * Archive key layout: `<accountId>/<sha256 of the message>.eml`.
 *
 * The key is derived from the bytes, not from the time of fetching or the message number, so a
 * message fetched again after an interrupted run lands on the same key: the store finds an identical
 * object and nothing is duplicated or overwritten. Identical bytes in one account are one object.
 */
export function archiveKey(accountId: string, sha256: string): string {
  return `${accountId}/${sha256}.eml`;
}

/**
 * RFC 1939 §7: a UIDL is 1–70 characters in 0x21–0x7E. Servers send other things; keep what they
 * sent, but store only a form in that range (percent-encoding anything else) so it is safe as
 * object metadata, in events, and in state files.
 */
export function normaliseUidl(raw: string): string {
  if (/^[\x21-\x24\x26-\x7e]{1,70}$/.test(raw)) return raw;
  return Array.from(Buffer.from(raw, 'latin1'))
    .map((byte) =>
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}
