import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

/**
 * A minimal multi-user POP3 server with implicit TLS on 127.0.0.1, for many mailboxes at once:
 * USER/PASS, CAPA, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT (DELE'd messages go at QUIT).
 */
export interface Pop3Fleet {
  readonly port: number;
  /** Messages by username; add to it to deliver mail. */
  readonly boxes: Map<string, { password: string; messages: Array<{ uidl: string; body: Buffer }> }>;
  close(): Promise<void>;
}

let uidSeq = 0;
export function deliver(fleet: Pop3Fleet, user: string, body: string): void {
  fleet.boxes.get(user)!.messages.push({ uidl: `u${++uidSeq}`, body: Buffer.from(body) });
}

export async function startPop3Fleet(cert: { certPem: string; keyPem: string }): Promise<Pop3Fleet> {
  const boxes: Pop3Fleet['boxes'] = new Map();
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => {
    let user: string | undefined;
    let box: ReturnType<typeof boxes.get>;
    const deleted = new Set<number>();
    let buffer = '';
    const send = (s: string | Buffer) => socket.write(s);
    const multi = (lines: string) => send(`+OK\r\n${lines}.\r\n`);
    const msg = (arg?: string) => {
      const n = Number(arg);
      return box && Number.isInteger(n) && n >= 1 && n <= box.messages.length && !deleted.has(n) ? n : 0;
    };
    const stuff = (b: Buffer) => {
      const s = b.toString('latin1').replace(/^\./gm, '..');
      return Buffer.from(s.endsWith('\r\n') ? s : `${s}\r\n`, 'latin1');
    };
    send('+OK ready\r\n');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const [verb = '', ...args] = line.split(' ');
        const live = () =>
          (box?.messages ?? []).map((m, k) => ({ m, n: k + 1 })).filter((x) => !deleted.has(x.n));
        switch (verb.toUpperCase()) {
          case 'CAPA':
            multi('USER\r\nUIDL\r\nTOP\r\n');
            break;
          case 'USER':
            user = args[0];
            send('+OK\r\n');
            break;
          case 'PASS': {
            const b = user !== undefined ? boxes.get(user) : undefined;
            if (b && b.password === args.join(' ')) {
              box = b;
              send('+OK logged in\r\n');
            } else send('-ERR [AUTH] invalid login\r\n');
            break;
          }
          case 'NOOP':
            send('+OK\r\n');
            break;
          case 'QUIT':
            if (box) box.messages = box.messages.filter((_, k) => !deleted.has(k + 1));
            send('+OK bye\r\n');
            socket.end();
            break;
          default: {
            if (!box) {
              send('-ERR not logged in\r\n');
              break;
            }
            const n = msg(args[0]);
            switch (verb.toUpperCase()) {
              case 'STAT':
                send(`+OK ${live().length} ${live().reduce((s, x) => s + x.m.body.length, 0)}\r\n`);
                break;
              case 'LIST':
                multi(
                  live()
                    .map((x) => `${x.n} ${x.m.body.length}\r\n`)
                    .join(''),
                );
                break;
              case 'UIDL':
                multi(
                  live()
                    .map((x) => `${x.n} ${x.m.uidl}\r\n`)
                    .join(''),
                );
                break;
              case 'RETR':
                if (n) {
                  send('+OK\r\n');
                  send(stuff(box.messages[n - 1]!.body));
                  send('.\r\n');
                } else send('-ERR no such message\r\n');
                break;
              case 'TOP':
                if (n) {
                  const head = box.messages[n - 1]!.body.toString('latin1').split('\r\n\r\n')[0]!;
                  send('+OK\r\n');
                  send(stuff(Buffer.from(`${head}\r\n\r\n`, 'latin1')));
                  send('.\r\n');
                } else send('-ERR no such message\r\n');
                break;
              case 'DELE':
                if (n) {
                  deleted.add(n);
                  send('+OK\r\n');
                } else send('-ERR no such message\r\n');
                break;
              case 'RSET':
                deleted.clear();
                send('+OK\r\n');
                break;
              default:
                send('-ERR unknown command\r\n');
            }
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    boxes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
