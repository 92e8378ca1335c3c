import * as net from 'node:net';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/** The proxy itself: exact cuts (mid-chunk, per direction, per connection) and ordered delays. */

interface Target {
  readonly port: number;
  /** What the target received on each connection, and whether that connection has closed. */
  readonly received: Array<{ bytes: Buffer; closed: boolean }>;
  close(): Promise<void>;
}

/** A target that sends `greeting` on connect and echoes everything (unless `echo` is false). */
async function startTarget(greeting: Buffer, echo = true): Promise<Target> {
  const received: Target['received'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const entry = { bytes: Buffer.alloc(0), closed: false };
    received.push(entry);
    socket.on('data', (d: Buffer) => {
      entry.bytes = Buffer.concat([entry.bytes, d]);
      if (echo) socket.write(d);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      entry.closed = true;
      sockets.delete(socket);
    });
    if (greeting.length > 0) socket.write(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Connects, writes `send` once the first byte arrives (or at once), and collects until close. */
async function exchange(port: number, send?: Buffer, sendAtOnce = false): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      if (send && sendAtOnce) socket.write(send);
    });
    socket.on('data', (d: Buffer) => {
      if (send && !sendAtOnce && parts.length === 0) socket.write(send);
      parts.push(d);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(parts)));
  });
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 2 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('startTcpProxy', () => {
  let target: Target;
  let proxy: TcpProxy | undefined;

  afterEach(async () => {
    await proxy?.close();
    await target?.close();
    proxy = undefined;
  });

  it('cuts after exactly K bytes in total, in the middle of a chunk, and closes both sides', async () => {
    target = await startTarget(Buffer.alloc(1000, 0x61));
    proxy = await startTcpProxy({ targetPort: target.port, cutAfterBytes: 1003 });
    const got = await exchange(proxy.port, Buffer.from('hello world'));
    await proxy.idle();
    // 1000 greeting bytes to the client, then 3 of the client's 11 towards the server.
    expect(got).toEqual(Buffer.alloc(1000, 0x61));
    expect(target.received[0]!.bytes.toString()).toBe('hel');
    await until(() => target.received[0]!.closed);
    expect(proxy.connections[0]).toMatchObject({
      clientToServer: 3,
      serverToClient: 1000,
      cut: true,
      closed: true,
    });
    expect(proxy.bytesForwarded).toBe(1003);
  });

  it('cuts a single server chunk mid-way', async () => {
    target = await startTarget(Buffer.alloc(5000, 0x62));
    proxy = await startTcpProxy({ targetPort: target.port, cutAfterBytes: 1234 });
    const got = await exchange(proxy.port);
    expect(got).toEqual(Buffer.alloc(1234, 0x62));
  });

  it('counts one direction only when asked', async () => {
    target = await startTarget(Buffer.alloc(100, 0x63));
    proxy = await startTcpProxy({
      targetPort: target.port,
      cutAfterBytes: 5,
      cutDirection: 'client-to-server',
    });
    const got = await exchange(proxy.port, Buffer.from('abcdefgh'));
    await proxy.idle();
    expect(target.received[0]!.bytes.toString()).toBe('abcde');
    // The greeting passed in full (not counted), and the echo of what got through may follow.
    expect(got.subarray(0, 100)).toEqual(Buffer.alloc(100, 0x63));
    expect(proxy.connections[0]!.clientToServer).toBe(5);
  });

  it('cuts at once with K = 0, and applies a new K to later connections only', async () => {
    target = await startTarget(Buffer.from('greeting'));
    proxy = await startTcpProxy({ targetPort: target.port, cutAfterBytes: 0 });
    expect(await exchange(proxy.port)).toEqual(Buffer.alloc(0));
    proxy.setCutAfter(4);
    expect((await exchange(proxy.port)).toString()).toBe('gree');
    proxy.setCutAfter(undefined);
    const third = new Promise<Buffer>((resolve) => {
      const socket = net.connect(proxy!.port, '127.0.0.1');
      socket.once('data', (d: Buffer) => {
        socket.end();
        resolve(d);
      });
    });
    expect((await third).toString()).toBe('greeting');
    await proxy.idle();
    expect(proxy.connections.map((c) => c.cutAfterBytes)).toEqual([0, 4, undefined]);
    expect(proxy.connections.map((c) => c.cut)).toEqual([true, true, false]);
  });

  it('delays every chunk by the one-way delay in each direction, in order', async () => {
    target = await startTarget(Buffer.alloc(0));
    proxy = await startTcpProxy({ targetPort: target.port, oneWayDelayMs: 40 });
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const arrivals: Array<{ text: string; at: number }> = [];
    socket.on('data', (d: Buffer) => arrivals.push({ text: d.toString(), at: Date.now() }));
    const started = Date.now();
    for (const text of ['1', '2', '3']) {
      socket.write(text);
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => arrivals.map((a) => a.text).join('').length >= 3);
    socket.end();
    expect(arrivals.map((a) => a.text).join('')).toBe('123');
    // A round trip through the proxy takes at least twice the one-way delay.
    expect(arrivals[0]!.at - started).toBeGreaterThanOrEqual(80 - 2);
  });

  it('passes large transfers through intact in both directions', async () => {
    target = await startTarget(Buffer.alloc(0));
    proxy = await startTcpProxy({ targetPort: target.port, oneWayDelayMs: 1 });
    const payload = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7) & 0xff));
    const echoed = await new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      let length = 0;
      const socket = net.connect(proxy!.port, '127.0.0.1', () => socket.write(payload));
      socket.on('data', (d: Buffer) => {
        parts.push(d);
        length += d.length;
        if (length >= payload.length) {
          socket.end();
          resolve(Buffer.concat(parts));
        }
      });
    });
    expect(echoed.equals(payload)).toBe(true);
  });
});
