import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { openSocket } from '../../../functions/pop3/transport';
import { Pop3Error } from '../../../functions/pop3/errors';
import { makeTestCertificates } from '../../support/certs';

/**
 * The socket layer's TLS options when the caller names its CAs: they go into a secure context
 * shared between sessions (transport.ts), which must still carry every setting a per-connection
 * context would — the trusted CAs and the minimum TLS version.
 */
describe('openSocket with explicit CAs', () => {
  const certs = makeTestCertificates();
  let server: tls.Server;
  let port: number;

  beforeAll(async () => {
    // A server that cannot speak TLS 1.3.
    server = tls.createServer({ cert: certs.certPem, key: certs.keyPem, maxVersion: 'TLSv1.2' }, (s) =>
      s.end('+OK\r\n'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const target = () => ({ host: '127.0.0.1', port });

  it('connects, many times, to a server its CA signed', async () => {
    for (let i = 0; i < 3; i++) {
      const socket = await openSocket(target(), true, { ca: certs.caPem }, 5_000);
      expect((socket as tls.TLSSocket).authorized).toBe(true);
      socket.destroy();
    }
  });

  it('refuses a server another CA signed, after trusting the right one in the same process', async () => {
    const error = await openSocket(target(), true, { ca: certs.otherCaPem }, 5_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Pop3Error);
    expect((error as Pop3Error).code).toBe('ETLS');
  });

  it('keeps the minimum TLS version in the shared context', async () => {
    const error = await openSocket(target(), true, { ca: certs.caPem, minVersion: 'TLSv1.3' }, 5_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Pop3Error);
    expect((error as Pop3Error).code).toBe('ETLS');
    // The same CA at the default minimum still connects: the contexts are kept apart.
    const socket = await openSocket(target(), true, { ca: [certs.caPem] }, 5_000);
    expect((socket as tls.TLSSocket).getProtocol()).toBe('TLSv1.2');
    socket.destroy();
  });
});
