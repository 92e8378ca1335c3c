import { isIP } from 'node:net';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { DirectReader } from './direct-reader';
import { Pop3Error } from './errors';

/**
 * Opening the byte stream a session runs on: TCP, implicit TLS, or the TLS upgrade that STLS asks
 * for. Certificate verification is on unless the caller turns it off by name; TLS 1.2 is the
 * minimum (RFC 8314 §4.1); an optional SHA-256 pin is checked on top of verification.
 */

export type TlsMode = 'implicit' | 'starttls' | 'none';

export interface TlsSettings {
  /** PEM CA certificate(s) to trust instead of the system store. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Verify the server certificate and name. Default true; false only for lab setups. */
  readonly rejectUnauthorized?: boolean;
  /**
   * SHA-256 fingerprint of the server's leaf certificate (DER), hex with or without colons.
   * Checked in addition to normal verification.
   */
  readonly certificateSha256?: string;
  /** Name to verify the certificate against; defaults to the host. */
  readonly servername?: string;
  /** Minimum TLS version; defaults to TLSv1.2. */
  readonly minVersion?: tls.SecureVersion;
}

export interface ConnectTarget {
  readonly host: string;
  readonly port: number;
  /** Local address to connect from (useful on multi-homed hosts and in tests). */
  readonly localAddress?: string;
}

export async function openSocket(
  target: ConnectTarget,
  implicitTls: boolean,
  settings: TlsSettings,
  timeoutMs: number,
  signal?: AbortSignal,
  /** Reads the implicit-TLS socket's cleartext through `onread` (direct-reader.ts). */
  reader?: DirectReader,
): Promise<net.Socket> {
  const socket = implicitTls
    ? tls.connect({
        host: target.host,
        port: target.port,
        ...(target.localAddress ? { localAddress: target.localAddress } : {}),
        ...tlsOptions(target.host, settings),
        ...(reader ? { onread: reader.onread } : {}),
      })
    : net.connect({
        host: target.host,
        port: target.port,
        ...(target.localAddress ? { localAddress: target.localAddress } : {}),
      });
  const ready = implicitTls ? 'secureConnect' : 'connect';
  await settle(socket, ready, timeoutMs, signal, `connecting to ${target.host}:${target.port}`, implicitTls);
  if (implicitTls) checkPin(socket as tls.TLSSocket, settings);
  return socket;
}

/** Wraps an established plain socket in TLS (after `+OK` to STLS, RFC 2595 §4). */
export async function upgradeSocket(
  socket: net.Socket,
  host: string,
  settings: TlsSettings,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket, ...tlsOptions(host, settings) });
  await settle(secure, 'secureConnect', timeoutMs, signal, `TLS handshake with ${host}`, true);
  checkPin(secure, settings);
  return secure;
}

function tlsOptions(host: string, settings: TlsSettings): tls.ConnectionOptions {
  const servername = settings.servername ?? host;
  const minVersion = settings.minVersion ?? 'TLSv1.2';
  return {
    // SNI must not be an IP address (RFC 6066 §3); Node still verifies an IP against the
    // certificate's IP SANs through `host`.
    ...(isIP(servername) ? {} : { servername }),
    host,
    rejectUnauthorized: settings.rejectUnauthorized ?? true,
    minVersion,
    ...(settings.ca ? { secureContext: sharedSecureContext(settings.ca, minVersion) } : {}),
  };
}

/**
 * Secure contexts for explicit CAs, built once and shared by every session that trusts the same
 * certificates. Building one parses each CA certificate — Node's ~140 roots plus a private CA
 * (EXTRA_CA_PEM) cost ~20 ms of CPU per session — and a fleet worker opens hundreds of sessions
 * against the same few CA sets. Without `ca` Node's default context is used and cached by Node.
 */
const secureContexts = new Map<string, tls.SecureContext>();
const MAX_SECURE_CONTEXTS = 16;

function sharedSecureContext(
  ca: NonNullable<TlsSettings['ca']>,
  minVersion: tls.SecureVersion,
): tls.SecureContext {
  const parts = (Array.isArray(ca) ? ca : [ca]) as ReadonlyArray<string | Buffer>;
  // A single PEM string (the worker's roots plus EXTRA_CA_PEM, ~200 KB) is the key as it is: the
  // same string every session, so the map does not build and hash a new one per connection.
  const pem =
    typeof ca === 'string'
      ? ca
      : parts.map((p) => (typeof p === 'string' ? p : p.toString('latin1'))).join('\n');
  const key = minVersion === 'TLSv1.2' ? pem : `${minVersion}\n${pem}`;
  let context = secureContexts.get(key);
  if (context === undefined) {
    context = tls.createSecureContext({ ca: [...parts], minVersion });
    // Oldest first out: a process trusting many different CA sets keeps only the recent ones.
    if (secureContexts.size >= MAX_SECURE_CONTEXTS)
      secureContexts.delete(secureContexts.keys().next().value!);
    secureContexts.set(key, context);
  }
  return context;
}

function checkPin(socket: tls.TLSSocket, settings: TlsSettings): void {
  if (!settings.certificateSha256) return;
  const want = normaliseFingerprint(settings.certificateSha256);
  const got = normaliseFingerprint(socket.getPeerCertificate().fingerprint256 ?? '');
  if (want !== got) {
    socket.destroy();
    throw new Pop3Error(
      'ETLS',
      `server certificate SHA-256 ${got || '(none)'} does not match the pinned ${want}`,
    );
  }
}

function normaliseFingerprint(value: string): string {
  return value.replace(/:/g, '').toLowerCase();
}

/** Waits for `event` on a fresh socket, turning errors, timeouts and aborts into Pop3Errors. */
function settle(
  socket: net.Socket,
  event: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  what: string,
  tlsPhase: boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Pop3Error) => {
      clearTimeout(timer);
      socket.off(event, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve();
      }
    };
    const onReady = () => done();
    const onError = (cause: Error & { code?: string }) =>
      done(
        tlsPhase && isTlsFailure(cause)
          ? new Pop3Error('ETLS', `${what}: ${cause.message}`, { cause })
          : new Pop3Error('ECONNECTION', `${what}: ${cause.message}`, { cause }),
      );
    const onClose = () => done(new Pop3Error('ECONNECTION', `${what}: connection closed`));
    const onAbort = () => done(new Pop3Error('EABORTED', `${what}: aborted`, { cause: signal?.reason }));
    const timer = setTimeout(
      () => done(new Pop3Error('ETIMEDOUT', `${what}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (signal?.aborted) return onAbort();
    socket.once(event, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Socket-level errors: the connection dropped, whatever phase it was in. */
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT']);

function isTlsFailure(error: Error & { code?: string }): boolean {
  const code = error.code ?? '';
  // A connection dropped mid-handshake is a network failure (retryable), not a TLS one (which
  // needs attention): Node reports it as ECONNRESET with "Client network socket disconnected
  // before secure TLS connection was established", which the message test below would match.
  // Found by test/functions/poller/fault-injection.test.ts (cut after 1..1726 bytes).
  if (NETWORK_ERROR_CODES.has(code)) return false;
  return (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    code.includes('CERT') ||
    code.includes('SELF_SIGNED') ||
    /ssl|tls|certificate/i.test(error.message)
  );
}
