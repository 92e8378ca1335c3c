import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';

/**
 * A scriptable POP3 server on 127.0.0.1: it does exactly what its script says, byte for byte,
 * including the things a real Dovecot never does (broken continuations, injected bytes after STLS,
 * replies cut off mid-body, silence). The tests and the fuzz suite script it directly; `mailbox.ts`
 * scripts it as a well-behaved in-memory mailbox, for the tests and for `pop3-poller demo`.
 *
 * Every byte the client sends is recorded, per TCP read, with the lines those reads complete, so
 * tests can assert what went on the wire and how it was batched.
 */

/** One piece of a reply written with its own `write`, optionally after a pause. */
export type ReplyChunk = string | Buffer | { readonly data: string | Buffer; readonly delayMs?: number };

export type Reply =
  /** Written as one `write`. */
  | string
  | Buffer
  /** Written piece by piece (an event-loop turn apart, or `delayMs`); `'close'` destroys the socket. */
  | ReadonlyArray<ReplyChunk | 'close'>
  /** Destroy the socket without a reply. */
  | 'close'
  /** Never answer (the line still counts as received). */
  | 'silent'
  /** Full control: write, upgrade to TLS, inject... The reply counts as sent when it settles. */
  | ((ctx: FakeContext) => void | Promise<void>);

export interface FakeContext {
  /** 0-based index of this connection. */
  readonly connection: number;
  /** The socket the client is currently talking on (the TLS one after `startTls`). */
  readonly socket: net.Socket;
  write(data: string | Buffer): void;
  /** Destroys the connection. */
  close(): void;
  /** Server side of a STLS upgrade, with the certificate given in `FakeServerOptions.tls`. */
  startTls(): Promise<tls.TLSSocket>;
}

export interface FakeScript {
  /** Sent on connect. Default `+OK fake POP3 ready`. */
  readonly greeting?: Reply;
  /** Decides the reply to one client line (without CRLF). `undefined` → `-ERR unknown command`. */
  handle(line: string, ctx: FakeContext): Reply | undefined | Promise<Reply | undefined>;
}

export interface FakeServerOptions {
  /** Server certificate, for `ctx.startTls()` and for `implicitTls`. */
  readonly certificate?: { readonly certPem: string; readonly keyPem: string };
  /** Speak TLS from the first byte (port-995 style). Needs `certificate`. */
  readonly implicitTls?: boolean;
}

export interface ReceivedChunk {
  readonly connection: number;
  /** Milliseconds since the server started. */
  readonly at: number;
  readonly data: Buffer;
  /** Whether the bytes arrived inside TLS (they are recorded decrypted). */
  readonly tls: boolean;
}

export interface ReceivedLine {
  readonly connection: number;
  /** The line without CRLF, decoded as UTF-8. */
  readonly line: string;
  /** Milliseconds since the server started, when the chunk completing the line arrived. */
  readonly at: number;
  /** Index in `received.chunks` of the chunk that completed the line. */
  readonly chunk: number;
  /** How many of this connection's earlier lines had been fully answered when this one arrived. */
  readonly answeredBefore: number;
  readonly tls: boolean;
}

export interface Received {
  readonly chunks: ReceivedChunk[];
  readonly lines: ReceivedLine[];
  /** Every byte received, all connections, in order. */
  bytes(): Buffer;
  /** Just the line texts, for `toEqual` assertions. */
  texts(): string[];
}

export interface FakeServer {
  readonly port: number;
  readonly received: Received;
  /** Number of connections accepted so far. */
  readonly connections: () => number;
  /** Resolves when connection `index` (default 0) has been closed, by either side. */
  connectionClosed(index?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeServer(
  script: FakeScript,
  options: FakeServerOptions = {},
): Promise<FakeServer> {
  const started = performance.now();
  const received: Received = {
    chunks: [],
    lines: [],
    bytes: () => Buffer.concat(received.chunks.map((c) => c.data)),
    texts: () => received.lines.map((l) => l.line),
  };
  const sockets = new Set<net.Socket>();
  const closedPromises: Array<Promise<void>> = [];
  const secureContext = options.certificate
    ? tls.createSecureContext({ cert: options.certificate.certPem, key: options.certificate.keyPem })
    : undefined;
  if (options.implicitTls && !secureContext)
    throw new Error('startFakeServer: implicitTls needs a certificate');

  const onConnection = (raw: net.Socket) => {
    const connection = closedPromises.length;
    closedPromises.push(new Promise((resolve) => raw.once('close', () => resolve())));
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    raw.on('error', () => {}); // resets are part of what is being tested
    raw.setNoDelay(true);

    let socket: net.Socket = raw;
    let secure = options.implicitTls === true;
    let partial = Buffer.alloc(0);
    let answered = 0;
    const queue: string[] = [];
    let busy = false;

    const onData = (data: Buffer) => {
      received.chunks.push({ connection, at: performance.now() - started, data, tls: secure });
      const chunk = received.chunks.length - 1;
      partial = Buffer.concat([partial, data]);
      let lf: number;
      while ((lf = partial.indexOf(0x0a)) !== -1) {
        const line = partial.toString('utf8', 0, lf).replace(/\r$/, '');
        partial = partial.subarray(lf + 1);
        received.lines.push({
          connection,
          line,
          at: performance.now() - started,
          chunk,
          answeredBefore: answered,
          tls: secure,
        });
        queue.push(line);
      }
      void drain();
    };

    const ctx: FakeContext = {
      connection,
      get socket() {
        return socket;
      },
      write: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      close: () => socket.destroy(),
      startTls: () => {
        if (!secureContext) throw new Error('startFakeServer: STLS needs options.certificate');
        // Take the plain socket away from the line reader before the ClientHello can arrive, and
        // forget every plaintext line not yet acted on: RFC 2595 §4 forbids acting on anything
        // sent before the handshake (the STARTTLS command-injection attack).
        socket.off('data', onData);
        partial = Buffer.alloc(0);
        queue.length = 0;
        const upgraded = new tls.TLSSocket(socket, { isServer: true, secureContext });
        upgraded.on('error', () => {});
        socket = upgraded;
        secure = true;
        upgraded.on('data', onData);
        return new Promise((resolve, reject) => {
          upgraded.once('secure', () => resolve(upgraded));
          upgraded.once('close', () => reject(new Error('closed during the TLS handshake')));
        });
      },
    };

    /** Answers queued lines one at a time, in order, as a real single-threaded server would. */
    const drain = async () => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length > 0 && !socket.destroyed) {
          const line = queue.shift()!;
          const reply = (await script.handle(line, ctx)) ?? '-ERR unknown command\r\n';
          if (reply === 'silent') continue;
          await perform(reply, ctx);
          answered += 1;
        }
      } catch {
        // A failed TLS upgrade or a script error: the connection is simply dropped.
        socket.destroy();
      } finally {
        busy = false;
      }
    };

    socket.on('data', onData);
    void perform(script.greeting ?? '+OK fake POP3 ready\r\n', ctx).catch(() => socket.destroy());
  };

  const server = options.implicitTls
    ? tls.createServer({ cert: options.certificate!.certPem, key: options.certificate!.keyPem }, onConnection)
    : net.createServer(onConnection);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    received,
    connections: () => closedPromises.length,
    connectionClosed: (index = 0) =>
      closedPromises[index] ?? Promise.reject(new Error(`no connection ${index}`)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function perform(reply: Reply, ctx: FakeContext): Promise<void> {
  if (reply === 'silent') return;
  if (reply === 'close') return ctx.close();
  if (typeof reply === 'function') return reply(ctx);
  if (typeof reply === 'string' || Buffer.isBuffer(reply)) return ctx.write(reply);
  for (const [index, chunk] of reply.entries()) {
    const delayMs = typeof chunk === 'object' && !Buffer.isBuffer(chunk) ? (chunk.delayMs ?? 0) : 0;
    // Pause between writes so they leave as separate TCP segments (noDelay is on).
    if (delayMs > 0) await sleep(delayMs);
    else if (index > 0) await new Promise((resolve) => setImmediate(resolve));
    // A client that hung up (or a server closed) ends the reply: a dripped one would otherwise go
    // on sleeping, chunk after chunk, for as long as it was scripted to last (70 s for a LIST
    // dripped an octet per 100 ms), and keep the process from exiting.
    if (ctx.socket.destroyed) return;
    if (chunk === 'close') return ctx.close();
    ctx.write(typeof chunk === 'object' && !Buffer.isBuffer(chunk) ? chunk.data : chunk);
  }
}
