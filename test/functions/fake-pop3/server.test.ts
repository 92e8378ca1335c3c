import { connect, type Socket } from 'node:net';
import { startFakeServer, type FakeServer } from '../../../functions/fake-pop3/server';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Connects, reads the greeting, sends `line`, and resolves with the socket once `octets` of the reply arrived. */
function ask(port: number, line: string, octets: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let greeted = false;
    let got = 0;
    socket.on('error', reject);
    socket.on('data', (data: Buffer) => {
      if (!greeted) {
        greeted = true;
        socket.write(`${line}\r\n`);
        return;
      }
      got += data.length;
      if (got >= octets) resolve(socket);
    });
  });
}

describe('Function: startFakeServer', () => {
  it('stops a dripped reply when the client hangs up, rather than sleeping through the rest of it', async () => {
    // 40 one-octet chunks 25 ms apart: a second of reply. Each chunk counts when it is taken.
    let taken = 0;
    const reply = Array.from({ length: 40 }, () => ({
      get data() {
        taken += 1;
        return 'x';
      },
      delayMs: 25,
    }));
    server = await startFakeServer({ handle: (line) => (line === 'LIST' ? reply : undefined) });

    const socket = await ask(server.port, 'LIST', 2);
    socket.destroy();
    const atHangUp = taken;
    await sleep(400);

    // At most the chunk already waiting when the close arrived: not the ~16 more of 400 ms.
    expect(taken - atHangUp).toBeLessThanOrEqual(2);
    expect(taken).toBeLessThan(reply.length);
  });

  it('still writes every chunk of a dripped reply to a client that stays', async () => {
    server = await startFakeServer({
      handle: (line) =>
        line === 'NOOP' ? ['+', { data: 'O', delayMs: 10 }, { data: 'K\r\n', delayMs: 10 }] : undefined,
    });

    const socket = await ask(server.port, 'NOOP', '+OK\r\n'.length);
    socket.destroy();
  });
});
