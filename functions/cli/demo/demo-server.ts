import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { SelfSignedCertificate } from './self-signed';

/**
 * A small in-process POP3 server for `pop3-poller demo`, so the demo runs with nothing installed.
 * It speaks enough of RFC 1939 / 2449 / 2595 for the poller's real code path: CAPA, STLS, USER/PASS,
 * STAT, LIST, UIDL, RETR (byte-stuffed), DELE, RSET, NOOP, QUIT (deleting only then), and it
 * advertises PIPELINING. It is a demo, not a mail server: one mailbox, one user, in memory.
 */
export interface DemoServer {
  readonly port: number;
  /** Messages still in the mailbox. */
  remaining(): number;
  close(): Promise<void>;
}

export async function startDemoServer(options: {
  readonly username: string;
  readonly password: string;
  readonly messages: readonly Buffer[];
  readonly certificate: SelfSignedCertificate;
}): Promise<DemoServer> {
  const mailbox = options.messages.map((bytes, i) => ({ bytes, uidl: `demo-${i + 1}`, deleted: false }));
  const sockets = new Set<Socket>();
  const server: Server = createServer((plain) => {
    sockets.add(plain);
    plain.on('close', () => sockets.delete(plain));
    let socket: Socket = plain;
    let buffered = '';
    let user: string | undefined;
    let authed = false;
    let secure = false;
    const marked = new Set<number>();
    const send = (text: string | Buffer) => socket.write(text);
    const capa = () =>
      ['+OK Capability list follows', 'UIDL', 'TOP', 'USER', 'PIPELINING', 'RESP-CODES']
        .concat(secure ? [] : ['STLS'])
        .concat(['.', ''])
        .join('\r\n');
    const live = () =>
      mailbox.map((m, i) => ({ ...m, n: i + 1 })).filter((m) => !m.deleted && !marked.has(m.n));
    const message = (arg: string | undefined) => {
      const n = Number(arg);
      return Number.isInteger(n) &&
        n >= 1 &&
        n <= mailbox.length &&
        !mailbox[n - 1]!.deleted &&
        !marked.has(n)
        ? { n, ...mailbox[n - 1]! }
        : undefined;
    };
    const handle = (line: string) => {
      const [verb = '', ...args] = line.split(' ');
      const command = verb.toUpperCase();
      if (command === 'CAPA') return send(capa());
      if (command === 'QUIT') {
        for (const n of marked) mailbox[n - 1]!.deleted = true; // RFC 1939 §6: the UPDATE state
        send('+OK bye\r\n');
        return socket.end();
      }
      if (command === 'NOOP') return send('+OK\r\n');
      if (!authed) {
        if (command === 'STLS' && !secure) {
          send('+OK begin TLS\r\n');
          buffered = ''; // RFC 2595 §4: nothing sent before the handshake may be acted on after it
          plain.removeAllListeners('data');
          const tls = new TLSSocket(plain, {
            isServer: true,
            cert: options.certificate.certPem,
            key: options.certificate.keyPem,
          });
          tls.on('data', onData);
          tls.on('error', () => plain.destroy());
          socket = tls;
          secure = true;
          return;
        }
        if (command === 'USER') {
          user = args.join(' ');
          return send('+OK\r\n');
        }
        if (command === 'PASS') {
          if (!secure) return send('-ERR [AUTH] use STLS first\r\n');
          if (user === options.username && args.join(' ') === options.password) {
            authed = true;
            return send('+OK logged in\r\n');
          }
          return send('-ERR [AUTH] invalid login\r\n');
        }
        return send('-ERR log in first\r\n');
      }
      switch (command) {
        case 'STAT': {
          const msgs = live();
          return send(`+OK ${msgs.length} ${msgs.reduce((s, m) => s + m.bytes.length, 0)}\r\n`);
        }
        case 'LIST':
        case 'UIDL': {
          const value = (m: { bytes: Buffer; uidl: string }) =>
            command === 'LIST' ? m.bytes.length : m.uidl;
          if (args[0]) {
            const m = message(args[0]);
            return send(m ? `+OK ${m.n} ${value(m)}\r\n` : '-ERR no such message\r\n');
          }
          return send(
            `+OK\r\n${live()
              .map((m) => `${m.n} ${value(m)}\r\n`)
              .join('')}.\r\n`,
          );
        }
        case 'RETR': {
          const m = message(args[0]);
          if (!m) return send('-ERR no such message\r\n');
          return send(Buffer.concat([Buffer.from('+OK\r\n'), stuff(m.bytes), Buffer.from('.\r\n')]));
        }
        case 'DELE': {
          const m = message(args[0]);
          if (!m) return send('-ERR no such message\r\n');
          marked.add(m.n);
          return send('+OK marked\r\n');
        }
        case 'RSET':
          marked.clear();
          return send('+OK\r\n');
        default:
          return send('-ERR unknown command\r\n');
      }
    };
    function onData(chunk: Buffer) {
      buffered += chunk.toString('latin1');
      let index: number;
      while ((index = buffered.indexOf('\r\n')) !== -1) {
        const line = buffered.slice(0, index);
        buffered = buffered.slice(index + 2);
        handle(line);
      }
    }
    plain.on('data', onData);
    plain.on('error', () => plain.destroy());
    send('+OK pop3-poller demo server ready\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    remaining: () => mailbox.filter((m) => !m.deleted).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** RFC 1939 §3 byte-stuffing: a line that starts with "." gets another "."; CRLF at the end. */
function stuff(bytes: Buffer): Buffer {
  let text = bytes.toString('latin1');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text.replace(/^\./gm, '..'), 'latin1');
}
