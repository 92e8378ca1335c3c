import { addressParser } from 'postal-mime';
import { ACCOUNT_ID_PATTERN } from '../poller/account';
import { sesEnvelopeRecipient, type HeaderField } from './ses-message';

/**
 * Which accounts a message SES received is archived under: the recipient as account.
 *
 * Who it was delivered to:
 * 1. the envelope recipient SES names in its own Received field (ses-message.ts), Bcc included,
 *    when SES names one (a delivery to one recipient);
 * 2. otherwise (a delivery to several recipients at once, or an object SES did not write), the
 *    addresses of the message's To and Cc fields that belong to you: those an entry of `recipients`
 *    matches, or at one of `domains`. A Bcc recipient of such a delivery is in neither field and
 *    is not found (docs/ses-inbound.md).
 *
 * Each recipient becomes an account:
 * - the `recipients` entry for the address, compared in lower case, then for the address without
 *   its `+detail` (`support+billing@example.com` → `support@example.com`), then for its domain
 *   (`@example.com`);
 * - with no entry, `unmapped: 'address'` names the account after the address: the address without
 *   `+detail`, in lower case, with `@` written `_at_` (`support_at_example.com`), when that is a
 *   valid account id (`[A-Za-z0-9._-]{1,64}`); `unmapped: 'skip'` archives nothing for it.
 *
 * Several recipients of one account are one archived message (one key, one event); recipients of
 * several accounts make one archived message in each.
 */

export interface RecipientRules {
  /** Lower-case address (`support@example.com`) or domain (`@example.com`) → account id. */
  readonly recipients: ReadonlyMap<string, string>;
  readonly unmapped: 'address' | 'skip';
  /** Lower-case domains whose To/Cc addresses count as yours, besides those `recipients` names. */
  readonly domains: ReadonlySet<string>;
}

export interface Recipient {
  /** The address as found (lower case). */
  readonly address: string;
  /** Where it was found: SES's envelope recipient, or the message's To/Cc fields. */
  readonly from: 'envelope' | 'header';
  /** The account it maps to; undefined when it maps to none (`skip`, or no valid derived id). */
  readonly accountId: string | undefined;
}

/** The recipients of a message and their accounts, in the order found, each address once. */
export function findRecipients(fields: readonly HeaderField[], rules: RecipientRules): Recipient[] {
  const envelope = sesEnvelopeRecipient(fields);
  if (envelope !== undefined) {
    const address = envelope.toLowerCase();
    // SES accepted it for this address, so it is one of yours whatever its domain.
    return [{ address, from: 'envelope', accountId: accountFor(address, rules) }];
  }
  const found = new Map<string, Recipient>();
  for (const field of fields) {
    if (field.name !== 'to' && field.name !== 'cc') continue;
    for (const address of addressesOf(field.value)) {
      if (found.has(address) || !isYours(address, rules)) continue;
      found.set(address, { address, from: 'header', accountId: accountFor(address, rules) });
    }
  }
  return [...found.values()];
}

/** The distinct accounts of `recipients`, in order. */
export function accountsOf(recipients: readonly Recipient[]): string[] {
  return [...new Set(recipients.flatMap((r) => (r.accountId !== undefined ? [r.accountId] : [])))];
}

/** The account an address maps to under the rules, or undefined. */
export function accountFor(address: string, rules: RecipientRules): string | undefined {
  const parts = splitAddress(address);
  if (!parts) return undefined;
  const { local, domain } = parts;
  const base = withoutDetail(local);
  const mapped =
    rules.recipients.get(`${local}@${domain}`) ??
    rules.recipients.get(`${base}@${domain}`) ??
    rules.recipients.get(`@${domain}`);
  if (mapped !== undefined) return mapped;
  if (rules.unmapped === 'skip') return undefined;
  const derived = `${base}_at_${domain}`;
  return ACCOUNT_ID_PATTERN.test(derived) ? derived : undefined;
}

/** An address found in To/Cc counts only if it is one of yours: mapped, or at one of `domains`. */
function isYours(address: string, rules: RecipientRules): boolean {
  const parts = splitAddress(address);
  if (!parts) return false;
  const { local, domain } = parts;
  return (
    rules.domains.has(domain) ||
    rules.recipients.has(`@${domain}`) ||
    rules.recipients.has(`${local}@${domain}`) ||
    rules.recipients.has(`${withoutDetail(local)}@${domain}`)
  );
}

function splitAddress(address: string): { local: string; domain: string } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  return { local: address.slice(0, at).toLowerCase(), domain: address.slice(at + 1).toLowerCase() };
}

/** RFC 5233 subaddressing: `user+detail` → `user` (a local part starting with `+` is kept). */
function withoutDetail(local: string): string {
  const plus = local.indexOf('+');
  return plus > 0 ? local.slice(0, plus) : local;
}

type Parsed = { name: string; address?: string | undefined; group?: Parsed[] | undefined };

/** The addresses of an address-list field (RFC 5322 §3.4, groups included), in lower case. */
function addressesOf(value: string): string[] {
  const out: string[] = [];
  const walk = (list: readonly Parsed[]) => {
    for (const entry of list) {
      if (entry.group) walk(entry.group);
      else if (entry.address && entry.address.includes('@')) out.push(entry.address.toLowerCase());
    }
  };
  walk(addressParser(value) as Parsed[]);
  return out;
}
