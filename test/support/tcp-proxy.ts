import * as net from 'node:net';
import { parseArgs } from 'node:util';

/**
 * A loopback TCP proxy in front of one target port, for fault injection and latency emulation.
 * It forwards raw bytes (TLS stays end to end between client and server) and can:
 *
 * - cut: let exactly `cutAfterBytes` bytes through on a connection (counted over both directions
 *   by default, or over one), splitting the chunk that crosses the limit, then flush what was
 *   let through, close both sockets and drop anything either side sends afterwards;
 * - delay: hold every chunk for `oneWayDelayMs` in each direction, in order (25 ms each way
 *   emulates a 50 ms RTT link; only data is delayed, not the TCP handshake, and TCP window effects
 *   are not modelled).
 *
 * The cut and delay settings are read when a connection is accepted, so they can be changed
 * between connections. Standalone (for benchmarks):
 *
 *   node dist/test/support/tcp-proxy.js --target-port 995 [--target-host 127.0.0.1] [--port 0]
 *        [--delay-ms 25] [--cut-after 1234] [--cut-direction both|client-to-server|server-to-client]
 *
 * prints `{"port":N}` on one line once listening and runs until SIGTERM/SIGINT.
 */

export type CutDirection = 'both' | 'client-to-server' | 'server-to-client';

export interface TcpProxyOptions {
  readonly targetPort: number;
  /** Default 127.0.0.1. */
  readonly targetHost?: string;
  /** Port to listen on; default 0 (a free port). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly listenHost?: string;
  /** Bytes a connection may carry before it is cut; unset: never cut. */
  readonly cutAfterBytes?: number;
  /** Which bytes count towards `cutAfterBytes`; default `both`. */
  readonly cutDirection?: CutDirection;
  /** Delay of every chunk in each direction; default 0. */
  readonly oneWayDelayMs?: number;
  /** Keep a log of every chunk each connection carried (`ProxyConnectionStats.chunks`). */
  readonly recordChunks?: boolean;
}

/** One chunk as it arrived at the proxy, with its position in the connection's byte count. */
export interface ProxyChunk {
  readonly direction: 'client-to-server' | 'server-to-client';
  /** Bytes (both directions) the connection had carried before this chunk. */
  readonly offset: number;
  readonly length: number;
}

/** What one proxied connection carried (bytes actually written to the other side). */
export interface ProxyConnectionStats {
  readonly id: number;
  clientToServer: number;
  serverToClient: number;
  /** The byte limit this connection was given, if any. */
  readonly cutAfterBytes: number | undefined;
  /** True once the limit was reached and the connection was cut. */
  cut: boolean;
  /** True once both sockets are closed. */
  closed: boolean;
  /** Every chunk forwarded, in arrival order, when `recordChunks` is set. */
  readonly chunks: ProxyChunk[] | undefined;
}

export interface TcpProxy {
  readonly port: number;
  /** Bytes forwarded in both directions over all connections so far. */
  readonly bytesForwarded: number;
  /** Every connection accepted so far, oldest first. */
  readonly connections: readonly ProxyConnectionStats[];
  /** Sets the byte limit for connections accepted from now on (undefined: no limit). */
  setCutAfter(bytes: number | undefined, direction?: CutDirection): void;
  /** Sets the one-way delay for connections accepted from now on. */
  setOneWayDelay(ms: number): void;
  /** Resolves once every connection that is open now has closed. */
  idle(): Promise<void>;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  let cutAfter = options.cutAfterBytes;
  let cutDirection: CutDirection = options.cutDirection ?? 'both';
  let delayMs = options.oneWayDelayMs ?? 0;
  const connections: ProxyConnectionStats[] = [];
  const open = new Set<Relay>();
  let bytesForwarded = 0;

  // Half-open allowed: a FIN from one side is passed on in order, after the data queued before it,
  // instead of Node ending the other direction at once.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const stats: ProxyConnectionStats = {
      id: connections.length + 1,
      clientToServer: 0,
      serverToClient: 0,
      cutAfterBytes: cutAfter,
      cut: false,
      closed: false,
      chunks: options.recordChunks ? [] : undefined,
    };
    connections.push(stats);
    const relay = new Relay(client, targetHost, options.targetPort, stats, cutDirection, delayMs, (n) => {
      bytesForwarded += n;
    });
    open.add(relay);
    relay.closed.then(() => open.delete(relay));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.listenHost ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as net.AddressInfo).port,
    get bytesForwarded() {
      return bytesForwarded;
    },
    connections,
    setCutAfter(bytes, direction) {
      if (bytes !== undefined && (!Number.isInteger(bytes) || bytes < 0))
        throw new RangeError(`cutAfterBytes must be a non-negative integer, got ${bytes}`);
      cutAfter = bytes;
      if (direction) cutDirection = direction;
    },
    setOneWayDelay(ms) {
      delayMs = ms;
    },
    async idle() {
      await Promise.all([...open].map((r) => r.closed));
    },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const relay of open) relay.destroy();
      await Promise.all([stopped, ...[...open].map((r) => r.closed)]);
    },
  };
}

/** One client connection and its connection to the target. */
class Relay {
  readonly closed: Promise<void>;
  private readonly upstream: net.Socket;
  private readonly toServer: Pipe;
  private readonly toClient: Pipe;
  private cutting = false;
  private destroyed = false;

  constructor(
    private readonly client: net.Socket,
    targetHost: string,
    targetPort: number,
    private readonly stats: ProxyConnectionStats,
    private readonly direction: CutDirection,
    delayMs: number,
    onForwarded: (bytes: number) => void,
  ) {
    client.setNoDelay(true);
    this.upstream = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    this.upstream.setNoDelay(true);
    // Writes to the target before it has accepted are buffered by net.Socket.
    this.toServer = new Pipe(client, this.upstream, delayMs, (n) => {
      stats.clientToServer += n;
      onForwarded(n);
    });
    this.toClient = new Pipe(this.upstream, client, delayMs, (n) => {
      stats.serverToClient += n;
      onForwarded(n);
    });
    let open = 2;
    this.closed = new Promise<void>((resolve) => {
      const onClose = () => {
        if (--open === 0) {
          stats.closed = true;
          resolve();
        }
      };
      client.once('close', onClose);
      this.upstream.once('close', onClose);
    });
    // An error on either side is abrupt: nothing more is forwarded.
    client.on('error', () => this.destroy());
    this.upstream.on('error', () => this.destroy());

    client.on('data', (chunk: Buffer) => this.onData(chunk, this.toServer, 'client-to-server'));
    this.upstream.on('data', (chunk: Buffer) => this.onData(chunk, this.toClient, 'server-to-client'));
    // A half-close is passed on after the data before it.
    client.on('end', () => this.toServer.end());
    this.upstream.on('end', () => this.toClient.end());

    if (stats.cutAfterBytes === 0) this.cut();
  }

  private onData(chunk: Buffer, pipe: Pipe, from: ProxyChunk['direction']): void {
    if (this.cutting || this.destroyed) return; // past the cut: dropped
    const limit = this.stats.cutAfterBytes;
    if (limit === undefined || (this.direction !== 'both' && this.direction !== from)) {
      this.forward(chunk, pipe, from);
      return;
    }
    const counted =
      this.direction === 'both'
        ? this.toServer.accepted + this.toClient.accepted
        : this.direction === 'client-to-server'
          ? this.toServer.accepted
          : this.toClient.accepted;
    const room = limit - counted;
    if (chunk.length < room) {
      this.forward(chunk, pipe, from);
      return;
    }
    // This chunk reaches the limit: forward exactly up to it, then cut.
    if (room > 0) this.forward(chunk.subarray(0, room), pipe, from);
    this.cut();
  }

  private forward(chunk: Buffer, pipe: Pipe, direction: ProxyChunk['direction']): void {
    const offset = this.toServer.accepted + this.toClient.accepted;
    this.stats.chunks?.push({ direction, offset, length: chunk.length });
    pipe.push(chunk);
  }

  /** Stops reading both sides, lets what was accepted reach its destination, then closes both. */
  private cut(): void {
    this.cutting = true;
    this.stats.cut = true;
    this.client.pause();
    this.upstream.pause();
    this.toServer.end();
    this.toClient.end();
    // Both sockets close once their queued bytes are written; don't wait forever for a peer that
    // stopped reading.
    Promise.all([this.toServer.finished, this.toClient.finished]).then(() => this.destroy());
    setTimeout(() => this.destroy(), 5_000).unref();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.toServer.abort();
    this.toClient.abort();
    this.client.destroy();
    this.upstream.destroy();
  }
}

/**
 * One direction of a relay: chunks are written to `to` in arrival order, each no earlier than
 * `delayMs` after it arrived, with backpressure on `from` when `to` is slow.
 */
class Pipe {
  /** Bytes accepted for forwarding (counted when they arrive, before any delay). */
  accepted = 0;
  readonly finished: Promise<void>;
  private readonly queue: Array<{ at: number; chunk: Buffer | null }> = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private aborted = false;
  private resolveFinished!: () => void;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly delayMs: number,
    private readonly onWritten: (bytes: number) => void,
  ) {
    this.finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));
    to.once('close', () => this.resolveFinished());
  }

  push(chunk: Buffer): void {
    if (this.ended || this.aborted || chunk.length === 0) return;
    this.accepted += chunk.length;
    this.enqueue(chunk);
  }

  /** Ends `to` (FIN) after everything queued before it. */
  end(): void {
    if (this.ended || this.aborted) return;
    this.ended = true;
    this.enqueue(null);
  }

  abort(): void {
    this.aborted = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
    this.resolveFinished();
  }

  private enqueue(chunk: Buffer | null): void {
    if (this.delayMs <= 0 && this.queue.length === 0) {
      this.deliver(chunk);
      return;
    }
    this.queue.push({ at: Date.now() + this.delayMs, chunk });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = Date.now();
        while (this.queue.length > 0 && this.queue[0]!.at <= now) this.deliver(this.queue.shift()!.chunk);
        this.schedule();
      },
      Math.max(0, this.queue[0]!.at - Date.now()),
    );
  }

  private deliver(chunk: Buffer | null): void {
    if (this.aborted || this.to.destroyed || this.to.writableEnded) return;
    if (chunk === null) {
      this.to.end(() => this.resolveFinished());
      return;
    }
    const flushed = this.to.write(chunk);
    this.onWritten(chunk.length);
    if (!flushed && !this.from.isPaused()) {
      this.from.pause();
      this.to.once('drain', () => {
        if (!this.from.destroyed) this.from.resume();
      });
    }
  }
}

/** The command-line entry: starts a proxy from `argv` and keeps it running until signalled. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<TcpProxy> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'target-port': { type: 'string' },
      'target-host': { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'delay-ms': { type: 'string', default: '0' },
      'cut-after': { type: 'string' },
      'cut-direction': { type: 'string', default: 'both' },
    },
    strict: true,
  });
  if (!values['target-port']) throw new Error('--target-port is required');
  const direction = values['cut-direction'];
  if (direction !== 'both' && direction !== 'client-to-server' && direction !== 'server-to-client')
    throw new Error('--cut-direction must be both, client-to-server or server-to-client');
  const proxy = await startTcpProxy({
    targetPort: Number(values['target-port']),
    targetHost: values['target-host'],
    port: Number(values.port),
    oneWayDelayMs: Number(values['delay-ms']),
    ...(values['cut-after'] !== undefined ? { cutAfterBytes: Number(values['cut-after']) } : {}),
    cutDirection: direction,
  });
  process.stdout.write(`${JSON.stringify({ port: proxy.port })}\n`);
  const stop = () => {
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return proxy;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
