import { Pop3Error } from './errors';
import type { AuthMethod, Credentials } from './sasl';
import type { TlsMode, TlsSettings } from './transport';

/** How a session is opened and bounded: `Pop3Client.connect(options)`. */

export interface Pop3Timeouts {
  /** TCP connect plus, for implicit TLS, the handshake. */
  readonly connectMs: number;
  /** From connected to the server's greeting. */
  readonly greetingMs: number;
  /**
   * Longest silence from the server while a reply is awaited. Also the period in which a server
   * that is not silent must make progress (1 KiB, or a complete reply): a reply dripped slower is
   * cut within two periods (progress-watchdog.ts).
   */
  readonly idleMs: number;
}

/** Largest message a client accepts unless told otherwise (Pop3ClientOptions.maxMessageBytes). */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

export const DEFAULT_TIMEOUTS: Pop3Timeouts = { connectMs: 15_000, greetingMs: 15_000, idleMs: 60_000 };

/** The port a mode connects to unless told otherwise: 995 for implicit TLS (RFC 8314 §7), else 110. */
export function defaultPort(tls: TlsMode = 'implicit'): number {
  return tls === 'implicit' ? 995 : 110;
}

export interface TraceEvent {
  readonly direction: 'client' | 'server';
  /** The line, with credentials replaced by `[redacted]`. Message bodies are never traced. */
  readonly line: string;
}

export interface Pop3ClientOptions {
  readonly host: string;
  /** Defaults to 995 for implicit TLS, 110 otherwise. */
  readonly port?: number;
  /**
   * `implicit` (default, RFC 8314), `starttls` (STLS, RFC 2595; fails if not offered) or `none`.
   * `none` must be chosen explicitly and sends no cleartext password unless `allowPlaintextAuth`.
   */
  readonly tls?: TlsMode;
  readonly tlsOptions?: TlsSettings;
  /** Allow a password or token to cross an unencrypted connection. Default false. */
  readonly allowPlaintextAuth?: boolean;
  readonly auth: Credentials & {
    /** Login method; `auto` (default) picks the strongest the server offers for the credentials. */
    readonly method?: AuthMethod | 'auto';
  };
  readonly localAddress?: string;
  readonly timeouts?: Partial<Pop3Timeouts>;
  /** Most commands in flight when the server offers PIPELINING (RFC 2449 §6.6). Default 64. */
  readonly pipelineWindow?: number;
  /** Longest status line accepted. Default 512 octets (RFC 2449 §4). */
  readonly maxLineLength?: number;
  /** Largest message accepted by RETR/TOP; larger ones fail with ELIMIT. Default 512 MiB. */
  readonly maxMessageBytes?: number;
  /** Largest LIST/UIDL/CAPA reply accepted. Default 64 MiB. */
  readonly maxListingBytes?: number;
  /** Send `UTF8` when the server advertises it (RFC 6856). Default true. */
  readonly utf8?: boolean;
  /** Aborts whatever is in progress and closes the connection. */
  readonly signal?: AbortSignal;
  /** Protocol trace for debugging; credentials are redacted before it is called. */
  readonly onTrace?: (event: TraceEvent) => void;
}

/** Checks what cannot wait for the server: the TLS mode, host and username (no CR, LF or NUL). */
export function validateOptions(options: Pop3ClientOptions): void {
  const mode = options.tls ?? 'implicit';
  if (!['implicit', 'starttls', 'none'].includes(mode)) {
    throw new Pop3Error('ECONFIG', `tls must be "implicit", "starttls" or "none", not "${String(mode)}"`);
  }
  if (!options.host) throw new Pop3Error('ECONFIG', 'host is required');
  if (!options.auth?.username) throw new Pop3Error('ECONFIG', 'username is required');

  if (/[\r\n\0]/.test(options.auth.username))
    throw new Pop3Error('ECONFIG', 'username contains CR, LF or NUL');
}
