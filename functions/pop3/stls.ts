import type { TLSSocket } from 'node:tls';
import { encodeCommand } from './command';
import { Pop3Error } from './errors';
import { printable } from './reply-decoder';
import type { Session } from './session';
import { upgradeSocket } from './transport';

/** RFC 2595 §4 STLS, with the RFC 2595 §3.1 / RFC 7817 injection guard. */
export async function startTls(session: Session): Promise<void> {
  if (!session.capabilities.has('STLS')) {
    throw new Pop3Error('ETLS', 'server does not offer STLS, and the account requires it', {
      command: 'STLS',
    });
  }
  await new Promise<void>((resolve, reject) => {
    session.enqueue({
      verb: 'STLS',
      line: encodeCommand('STLS'),
      exclusive: true,
      status: (status) => {
        if (status.kind !== 'ok') {
          reject(
            new Pop3Error('ETLS', `server refused STLS: ${printable(status.text)}`, {
              command: 'STLS',
              response: status.text,
            }),
          );
          return 'done';
        }
        // Stop reading at once: anything after this line was sent in cleartext and must not
        // be taken as a reply (that is how STARTTLS command injection works).
        session.haltReading();
        resolve();
        return 'halt';
      },
      fail: reject,
    });
  });
  const injected = session.takeHeldBytes();
  if (injected.length > 0) {
    throw new Pop3Error('ETLS', `server sent ${injected.length} octets after +OK to STLS, before TLS began`, {
      command: 'STLS',
    });
  }
  const plain = session.releaseSocket();
  const { options } = session;
  let secure: TLSSocket;
  try {
    secure = await upgradeSocket(
      plain,
      options.host,
      options.tlsOptions ?? {},
      session.timeouts.connectMs,
      options.signal,
    );
  } catch (error) {
    session.fatal(
      error instanceof Pop3Error ? error : new Pop3Error('ETLS', String(error), { cause: error }),
    );
    throw error;
  }
  session.useTlsSocket(secure);
  // RFC 2595 §4: capabilities learnt before TLS are discarded.
  await session.refreshCapabilities();
}
