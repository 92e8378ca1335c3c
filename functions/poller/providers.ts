import type { TlsMode } from '../pop3';

/**
 * Presets for the big mail providers: where their POP3 servers are, and how they behave in ways
 * the workflow must know (../shared/notes/pop3-field-notes.md, "Providers"). What the client can
 * learn from CAPA (no PIPELINING, LOGIN-DELAY, which SASL mechanisms) it adapts to by itself; a
 * preset only covers what CAPA does not say.
 *
 * Explicit settings (the secret's, then the account's) always win over a preset, so a preset never
 * stops a deployment from pointing at a proxy or a test server.
 */

export type ProviderName = 'gmail' | 'outlook';

export const PROVIDER_NAMES: readonly ProviderName[] = ['gmail', 'outlook'];

export interface ProviderPreset {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  /**
   * The server lists only part of the mailbox per session (Gmail: the ~250 oldest messages not yet
   * downloaded) and the next session lists more. After a session that handled everything it
   * listed, the workflow opens another while the run's bounds, deadline and LOGIN-DELAY allow.
   */
  readonly partialListing: boolean;
  /**
   * A username prefix that selects a mode in which messages must never be DELE'd (Gmail
   * `recent:user@gmail.com`: the last 30 days, whatever was downloaded before). Such accounts run
   * in keep mode; `mode: "delete"` and `deleteAfterDays` are configuration errors for them.
   */
  readonly keepOnlyPrefix?: string;
}

export const PROVIDERS: Readonly<Record<ProviderName, ProviderPreset>> = {
  // CAPA: USER RESP-CODES EXPIRE 0 LOGIN-DELAY 300 TOP UIDL X-GOOGLE-RICO SASL PLAIN XOAUTH2 OAUTHBEARER
  gmail: {
    host: 'pop.gmail.com',
    port: 995,
    tls: 'implicit',
    partialListing: true,
    keepOnlyPrefix: 'recent:',
  },
  // CAPA: TOP UIDL SASL PLAIN XOAUTH2 USER (OAuth2 only since basic auth was retired)
  outlook: { host: 'outlook.office365.com', port: 995, tls: 'implicit', partialListing: false },
};

/** The preset for a configured provider, or for a host that is a known provider's server. */
export function providerPreset(
  provider: ProviderName | undefined,
  host: string | undefined,
): ProviderPreset | undefined {
  if (provider !== undefined) return PROVIDERS[provider];
  const normalised = host?.toLowerCase().replace(/\.$/, '');
  return Object.values(PROVIDERS).find((p) => p.host === normalised);
}

/** Whether the username selects the provider's keep-only mode (Gmail `recent:`). */
export function isKeepOnlyLogin(preset: ProviderPreset | undefined, username: string): boolean {
  return preset?.keepOnlyPrefix !== undefined && username.toLowerCase().startsWith(preset.keepOnlyPrefix);
}
