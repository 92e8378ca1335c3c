import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startFakeMailbox, type FakeMailboxOptions } from '../../../functions/fake-pop3/mailbox';
import type { FakeServer, FakeServerOptions } from '../../../functions/fake-pop3/server';
import { Pop3Client, type Pop3ClientOptions } from '../../../functions/pop3';
import { makeTestCertificates, type TestCertificates } from '../../support/certs';

const PASSWORD = 'mailbox-pw';
const servers: FakeServer[] = [];
const clients: Pop3Client[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: Partial<FakeMailboxOptions> = {}, serverOptions: FakeServerOptions = {}) {
  const started = await startFakeMailbox(
    { username: 'alice', password: PASSWORD, ...options },
    serverOptions,
  );
  servers.push(started.server);
  return started;
}

async function login(server: FakeServer, overrides: Partial<Pop3ClientOptions> = {}): Promise<Pop3Client> {
  const client = await Pop3Client.connect({
    host: '127.0.0.1',
    port: server.port,
    tls: 'none',
    allowPlaintextAuth: true,
    auth: { username: 'alice', password: PASSWORD },
    ...overrides,
  });
  clients.push(client);
  return client;
}

/** A raw session: `send` writes one command and resolves with its whole reply, as text. */
async function raw(server: FakeServer) {
  const socket = connect(server.port, '127.0.0.1');
  sockets.push(socket);
  let buffered = '';
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    waiting?.();
  });
  const reply = (multiLine: boolean) =>
    new Promise<string>((resolve) => {
      const check = () => {
        const end = multiLine && buffered.startsWith('+OK') ? buffered.indexOf('\r\n.\r\n') : -1;
        const at =
          multiLine && buffered.startsWith('+OK')
            ? end === -1
              ? -1
              : end + 5
            : buffered.indexOf('\r\n') + 2;
        if (at <= 1) return;
        const text = buffered.slice(0, at);
        buffered = buffered.slice(at);
        waiting = undefined;
        resolve(text);
      };
      waiting = check;
      check();
    });
  const greeting = await reply(false);
  return {
    greeting,
    send: (line: string, multiLine = false) => {
      socket.write(`${line}\r\n`);
      return reply(multiLine);
    },
  };
}

const message = (n: number, body = `body ${n}\r\n`) => Buffer.from(`Subject: ${n}\r\n\r\n${body}`, 'latin1');

describe('Class: FakeMailbox', () => {
  describe('sessions (RFC 1939 §5, §6)', () => {
    it('fixes message numbers at login: mail added later is seen only by the next session', async () => {
      const { mailbox, server } = await serve({ messages: [message(1), message(2)] });
      const first = await login(server);
      mailbox.add(message(3), 'late');

      expect((await first.uidl()).map((e) => e.uid)).toEqual(['uid-1', 'uid-2']);
      expect(await first.stat()).toEqual({ count: 2, size: message(1).length + message(2).length });
      await first.quit();

      const second = await login(server);
      expect((await second.uidl()).map((e) => [e.messageNumber, e.uid])).toEqual([
        [1, 'uid-1'],
        [2, 'uid-2'],
        [3, 'late'],
      ]);
    });

    it('hides a DELE’d message from its session, removes it only at QUIT, and renumbers the next session', async () => {
      const { mailbox, server } = await serve({ messages: [message(1), message(2), message(3)] });
      const session = await raw(server);
      await session.send('USER alice');
      expect(await session.send(`PASS ${PASSWORD}`)).toBe('+OK logged in\r\n');

      expect(await session.send('DELE 2')).toBe('+OK message 2 deleted\r\n');
      expect(await session.send('LIST', true)).toBe(
        `+OK\r\n1 ${message(1).length}\r\n3 ${message(3).length}\r\n.\r\n`,
      );
      expect(await session.send('RETR 2')).toBe('-ERR no such message\r\n');
      expect(await session.send('DELE 2')).toBe('-ERR no such message\r\n');
      expect(mailbox.live.size).toBe(3);
      expect(await session.send('QUIT')).toBe('+OK bye\r\n');
      expect([...mailbox.live.keys()]).toEqual([1, 3]);
      expect(mailbox.quits()).toBe(1);

      const next = await login(server);
      expect((await next.uidl()).map((e) => [e.messageNumber, e.uid])).toEqual([
        [1, 'uid-1'],
        [2, 'uid-3'],
      ]);
    });

    it('removes nothing when a session ends without QUIT', async () => {
      const { mailbox, server } = await serve({ messages: [message(1), message(2)] });
      const client = await login(server);
      await client.dele(1);
      await client.dele(2);
      client.destroy();
      await server.connectionClosed(0);

      expect(mailbox.live.size).toBe(2);
      expect(mailbox.quits()).toBe(0);
    });

    it('unmarks everything at RSET', async () => {
      const { mailbox, server } = await serve({ messages: [message(1), message(2)] });
      const client = await login(server);
      await client.dele(1);
      await client.rset();
      expect((await client.list()).map((e) => e.messageNumber)).toEqual([1, 2]);
      await client.quit();
      expect(mailbox.live.size).toBe(2);
    });

    it('with expireZero, lists EXPIRE 0 after login and lets QUIT take what was retrieved (RFC 2449 §6.7)', async () => {
      const { mailbox, server } = await serve({ messages: [message(1), message(2)], expireZero: true });
      const client = await login(server);
      expect(client.capabilities.has('EXPIRE')).toBe(true);
      await client.retrBuffer(2);
      await client.quit();
      expect([...mailbox.live.keys()]).toEqual([1]);
    });
  });

  describe('replies', () => {
    it('answers LIST and UIDL with an argument on one line, and a bad number with -ERR', async () => {
      const { server } = await serve({ messages: [message(1), message(2)], listSize: (id) => id * 10 });
      const session = await raw(server);
      await session.send('USER alice');
      await session.send(`PASS ${PASSWORD}`);
      expect(await session.send('LIST 2')).toBe('+OK 2 20\r\n');
      expect(await session.send('UIDL 1')).toBe('+OK 1 uid-1\r\n');
      expect(await session.send('LIST', true)).toBe('+OK\r\n1 10\r\n2 20\r\n.\r\n');
      for (const bad of ['LIST 3', 'UIDL 0', 'RETR x', 'RETR 1.0', 'TOP 1', 'DELE'])
        expect(await session.send(bad)).toBe('-ERR no such message\r\n');
      expect(await session.send('STAT')).toBe(`+OK 2 ${message(1).length + message(2).length}\r\n`);
    });

    it('serves RETR byte-stuffed (RFC 1939 §3) and TOP as the header block and n body lines (§7)', async () => {
      const bytes = Buffer.from('Subject: dots\r\n\r\n.one\r\ntwo\r\n..three\r\n\xff\x00end', 'latin1');
      const { server } = await serve({ messages: [bytes] });
      const session = await raw(server);
      await session.send('USER alice');
      await session.send(`PASS ${PASSWORD}`);

      expect(await session.send('RETR 1', true)).toBe(
        '+OK\r\nSubject: dots\r\n\r\n..one\r\ntwo\r\n...three\r\n\xff\x00end\r\n.\r\n',
      );
      expect(await session.send('TOP 1 2', true)).toBe('+OK\r\nSubject: dots\r\n\r\n..one\r\ntwo\r\n.\r\n');
      expect(await session.send('TOP 1 0', true)).toBe('+OK\r\nSubject: dots\r\n\r\n.\r\n');

      const client = await login(server);
      expect((await client.retrBuffer(1)).equals(Buffer.concat([bytes, Buffer.from('\r\n')]))).toBe(true);
    });

    it('with crlf, serves bare LFs as CRLF and counts them in STAT and LIST, as Dovecot does', async () => {
      const unix = Buffer.from('Subject: unix\n\nline one\nline two\r\n', 'latin1');
      const { mailbox, server } = await serve({ messages: [unix], crlf: true });
      const client = await login(server);
      const served = Buffer.from('Subject: unix\r\n\r\nline one\r\nline two\r\n', 'latin1');

      expect(await client.list()).toEqual([{ messageNumber: 1, size: served.length }]);
      expect(await client.stat()).toEqual({ count: 1, size: served.length });
      expect((await client.retrBuffer(1)).equals(served)).toBe(true);
      expect(mailbox.live.get(1)!.bytes.equals(unix)).toBe(true);
    });

    it('refuses a wrong user or password, and transaction commands before login', async () => {
      const { server } = await serve({ messages: [message(1)] });
      const session = await raw(server);
      expect(session.greeting).toBe('+OK fake POP3 ready\r\n');
      expect(await session.send('STAT')).toBe('-ERR not logged in\r\n');
      expect(await session.send(`PASS ${PASSWORD}`)).toBe('-ERR [AUTH] invalid login\r\n');
      await session.send('USER bob');
      expect(await session.send(`PASS ${PASSWORD}`)).toBe('-ERR [AUTH] invalid login\r\n');
      await session.send('USER alice');
      expect(await session.send('PASS wrong')).toBe('-ERR [AUTH] invalid login\r\n');
      expect(await session.send('XYZZY')).toBe('-ERR unknown command\r\n');
      expect(await session.send(`PASS ${PASSWORD}`)).toBe('+OK logged in\r\n');
      expect(await session.send('USER alice')).toBe('-ERR already logged in\r\n');
      expect(await session.send('NOOP')).toBe('+OK\r\n');
    });

    it('lets an override answer first and falls through when it returns undefined', async () => {
      const { server } = await serve({
        messages: [message(1)],
        override: (line) => (line === 'RETR 1' ? '-ERR [SYS/TEMP] try later\r\n' : undefined),
      });
      const session = await raw(server);
      await session.send('USER alice');
      await session.send(`PASS ${PASSWORD}`);
      expect(await session.send('RETR 1')).toBe('-ERR [SYS/TEMP] try later\r\n');
      expect(await session.send('LIST 1')).toBe(`+OK 1 ${message(1).length}\r\n`);
    });
  });

  describe('STLS (RFC 2595)', () => {
    let certs: TestCertificates;
    beforeAll(() => {
      certs = makeTestCertificates();
    }, 30_000);

    it('offers STLS in plaintext only, refuses PASS before it with requireTls, and logs a verifying client in after it', async () => {
      const { server } = await serve(
        { messages: [message(1)], stls: true, requireTls: true },
        { certificate: certs },
      );
      const session = await raw(server);
      expect(await session.send('CAPA', true)).toBe(
        '+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\nRESP-CODES\r\nSTLS\r\n.\r\n',
      );
      await session.send('USER alice');
      expect(await session.send(`PASS ${PASSWORD}`)).toBe('-ERR [AUTH] use STLS first\r\n');

      const client = await login(server, {
        tls: 'starttls',
        allowPlaintextAuth: false,
        tlsOptions: { ca: certs.caPem },
      });
      expect(client.isEncrypted).toBe(true);
      expect(client.capabilities.has('STLS')).toBe(false);
      expect(client.pipelining).toBe(true);
      expect((await client.retrBuffer(1)).equals(message(1))).toBe(true);
    });

    it('acts on nothing the client sent in plaintext behind STLS (command injection)', async () => {
      const { mailbox, server } = await serve({ messages: [message(1)], stls: true }, { certificate: certs });
      const plain = connect(server.port, '127.0.0.1');
      sockets.push(plain);
      const readUntil = (socket: Socket, pattern: RegExp) =>
        new Promise<string>((resolve) => {
          let text = '';
          const onData = (chunk: Buffer) => {
            text += chunk.toString('latin1');
            if (!pattern.test(text)) return;
            socket.off('data', onData);
            resolve(text);
          };
          socket.on('data', onData);
          socket.once('close', () => resolve(text)); // a closed session resolves with what it said
        });
      await readUntil(plain, /\r\n/);
      // Pipelined behind STLS in one segment, as a man in the middle would inject them.
      const stlsReply = readUntil(plain, /\r\n/);
      plain.write(`STLS\r\nUSER alice\r\nPASS ${PASSWORD}\r\nDELE 1\r\nQUIT\r\n`);
      expect(await stlsReply).toBe('+OK Begin TLS negotiation\r\n');

      const secure = tlsConnect({ socket: plain, ca: certs.caPem, servername: 'localhost' });
      await once(secure, 'secureConnect');
      const first = readUntil(secure, /\r\n\.\r\n/);
      secure.write('CAPA\r\n');

      // The first reply inside TLS answers CAPA, before login: nothing injected was answered.
      expect(await first).toMatch(/^\+OK Capability list follows\r\nUSER\r\n/);
      expect(server.received.texts()).toEqual([
        'STLS',
        'USER alice',
        `PASS ${PASSWORD}`,
        'DELE 1',
        'QUIT',
        'CAPA',
      ]);
      expect(mailbox.quits()).toBe(0);
      expect(mailbox.live.size).toBe(1);
      secure.destroy();
    });
  });
});
