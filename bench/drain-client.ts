/**
 * The measured program of the drain benchmark (issue 2): logs in to a POP3 server, lists the
 * mailbox with UIDL, retrieves every message into its own file, deletes each message once its file
 * is written and fsync'd, QUITs, and prints a one-line JSON summary.
 *
 *   POP3_PASSWORD=secret node dist/bench/drain-client.js --host 127.0.0.1 --port 995 \
 *     --tls implicit --ca ca.pem --user alice --out /tmp/out
 *
 * The password comes from the environment (POP3_PASSWORD), never from argv.
 *
 * Memory stays bounded: each message is streamed to its file as it arrives, and at most `--ahead`
 * RETRs are outstanding. (The session's pipeline window bounds the commands in flight, not the
 * replies read but not yet consumed: a message smaller than the stream's highWaterMark is read
 * whole without pausing the socket, so without this bound a slow disk would let the whole mailbox
 * pile up in memory.)
 *
 * Speed (measured: see the report of issue 2 and bench/drain.ts):
 * - RETRs go out pipelined in batches of `ahead / 2`, and the DELEs of the messages written since
 *   the previous batch go out with them, so one TLS record and one segment carry dozens of
 *   commands. DELE only marks a message (nothing is removed before QUIT), so sending it a few
 *   messages after its file became durable changes nothing but the number of writes.
 * - Each message's file is created ahead of it in the thread pool (`--open async`): creating a
 *   file, not writing it, is what costs on a disk, and this way it overlaps the network.
 * - Chunks are written as they arrive, gathered into one writev per message (or per 256 KiB).
 * - Each file is fsync'd in the thread pool (`--fsync async`) while the next message is read, and
 *   its DELE is queued only once the fsync has succeeded; the directory is fsync'd before QUIT.
 *   `--open sync --fsync sync` does all of it inline instead, which costs less CPU where file
 *   operations are cheap (tmpfs) and more wall time where they are not (a disk).
 */
import { closeSync, fsync, fsyncSync, open, openSync, readFileSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pop3Client } from '../functions/pop3/client';
import type { MessageStream } from '../functions/pop3/message-stream';
import type { TlsMode } from '../functions/pop3/transport';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    tls: { type: 'string', default: 'implicit' },
    ca: { type: 'string' },
    user: { type: 'string' },
    out: { type: 'string' },
    /** Most RETRs outstanding (and files opened ahead). */
    ahead: { type: 'string', default: '32' },
    /** The session's pipeline window (commands in flight). */
    window: { type: 'string', default: '64' },
    /** How files are created: `async` (in the thread pool, ahead of their message) or `sync`. */
    open: { type: 'string', default: 'async' },
    /** `async` (thread pool), `sync`, or `off` (not durable; for measuring its cost only). */
    fsync: { type: 'string', default: 'async' },
  },
  strict: true,
});

const password = process.env.POP3_PASSWORD;
if (!args.user || !args.out || password === undefined) {
  process.stderr.write('usage: POP3_PASSWORD=... drain-client --user U --out DIR [--host H] [--port P] ');
  process.stderr.write('[--tls implicit|starttls|none] [--ca FILE] [--ahead N] [--window N] ');
  process.stderr.write('[--open async|sync] [--fsync async|sync|off]\n');
  process.exit(2);
}
const outDir = args.out;
const ahead = Math.max(1, Number(args.ahead));
const refillBelow = Math.max(1, ahead >> 1);
const durable = args.fsync !== 'off';
const syncOpen = args.open === 'sync';
const syncFsync = args.fsync === 'sync';

/** Creates a message's file: in the thread pool, or inline with `--open sync`. */
function openFile(path: string): Promise<number> {
  if (syncOpen) return Promise.resolve(openSync(path, 'wx', 0o600));
  return new Promise((resolve, reject) =>
    open(path, 'wx', 0o600, (error, fd) => (error ? reject(error) : resolve(fd))),
  );
}

/** fsync (in the thread pool unless `--fsync sync`), then close, which is cheap once synced. */
function syncAndClose(fd: number): Promise<void> {
  if (!durable) {
    closeSync(fd);
    return Promise.resolve();
  }
  if (syncFsync) {
    fsyncSync(fd);
    closeSync(fd);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) =>
    fsync(fd, (error) => {
      closeSync(fd);
      if (error) reject(error);
      else resolve();
    }),
  );
}

/** Chunks are gathered up to this many octets and written with one writev. */
const WRITE_BATCH = 256 * 1024;

/**
 * Writes a message to `fd` as it arrives, in flowing mode, with no promise per chunk. The TLS
 * records of a POP3 server are small (Dovecot's carry 4 KiB), so chunks are gathered and written
 * together with one writev (synchronously: a write into the page cache costs less than a round
 * trip through the thread pool) when WRITE_BATCH octets have gathered and at the end of the
 * message. At most WRITE_BATCH octets of a message are ever held.
 */
function writeMessage(stream: MessageStream, fd: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = () => {
      if (batched > 0) writeFully(fd, batch, batched);
      bytes += batched;
      batch = [];
      batched = 0;
    };
    const onData = (chunk: Buffer) => {
      batch.push(chunk);
      batched += chunk.length;
      if (batched < WRITE_BATCH) return;
      try {
        flush();
      } catch (error) {
        stream.off('data', onData);
        stream.destroy();
        reject(error as Error);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => {
      try {
        flush();
        resolve(bytes);
      } catch (error) {
        reject(error as Error);
      }
    });
    stream.once('close', () => {
      if (!stream.readableEnded)
        reject(stream.errored ?? new Error(`message ${stream.messageNumber} aborted`));
    });
  });
}

/** writev, continuing after a short write. */
function writeFully(fd: number, buffers: Buffer[], length: number): void {
  let written = writevSync(fd, buffers);
  while (written < length) {
    let skip = written;
    const rest: Buffer[] = [];
    for (const buffer of buffers) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(buffer.subarray(skip));
        skip = 0;
      }
    }
    written += writevSync(fd, rest);
  }
}

function fileName(messageNumber: number, uid: string): string {
  const safe = uid.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return `${String(messageNumber).padStart(6, '0')}-${safe}.eml`;
}

async function main(): Promise<void> {
  const client = await Pop3Client.connect({
    host: args.host!,
    ...(args.port ? { port: Number(args.port) } : {}),
    tls: args.tls as TlsMode,
    ...(args.ca ? { tlsOptions: { ca: readFileSync(args.ca) } } : {}),
    auth: { username: args.user!, password },
    pipelineWindow: Number(args.window),
  });
  try {
    const entries = await client.uidl();
    const retrs: Array<Promise<MessageStream> | undefined> = [];
    const files: Array<Promise<number> | undefined> = [];
    const written: Promise<void>[] = [];
    const deles: Promise<void>[] = [];

    // DELEs wait for the next batch of RETRs (or the end) and go out with it, in one TLS record:
    // DELE only marks a message, the server removes nothing before QUIT, so sending it a few
    // messages later changes nothing but the number of writes.
    let ready: number[] = [];
    const flushDeles = () => {
      for (const n of ready) deles.push(client.dele(n));
      ready = [];
    };

    let issued = 0;
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      if (issued - i < refillBelow) {
        flushDeles();
        while (issued < entries.length && issued < i + ahead) {
          const { messageNumber, uid } = entries[issued]!;
          retrs[issued] = client.retr(messageNumber);
          files[issued] = openFile(join(outDir, fileName(messageNumber, uid)));
          files[issued]!.catch(() => {}); // awaited below, in order
          issued += 1;
        }
      }
      const stream = await retrs[i]!;
      const fd = await files[i]!;
      retrs[i] = files[i] = undefined;
      try {
        bytes += await writeMessage(stream, fd);
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      const { messageNumber } = entries[i]!;
      written.push(syncAndClose(fd).then(() => void ready.push(messageNumber)));
    }
    await Promise.all(written);
    flushDeles();
    await Promise.all(deles);
    if (durable && entries.length > 0) {
      // DELE takes effect at QUIT: make the new directory entries durable before that.
      const dir = openSync(outDir, 'r');
      fsyncSync(dir);
      closeSync(dir);
    }
    await client.quit();
    process.stdout.write(
      `${JSON.stringify({
        count: entries.length,
        bytes,
        ms: Math.round(performance.now()),
        maxRSS: process.resourceUsage().maxRSS,
      })}\n`,
    );
  } catch (error) {
    client.destroy();
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`drain-client: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
