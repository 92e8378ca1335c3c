import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/**
 * A received message held until it is archived: in memory when small, in a temp file when large,
 * so that one 100 MB message costs disk, not memory. The SHA-256 and size are computed while the
 * bytes arrive, once, and are what the archive must match.
 *
 * A spool lets the POP3 session move on to the next message while this one is being stored.
 */
export class Spool {
  private constructor(
    readonly size: number,
    readonly sha256: string,
    private readonly memory: Buffer | undefined,
    private readonly file: string | undefined,
  ) {}

  /** Bytes held in memory (what counts against the run's memory budget). */
  get memoryBytes(): number {
    return this.memory?.length ?? 0;
  }

  /** Bytes held in a temp file (0 when held in memory). */
  get fileBytes(): number {
    return this.file === undefined ? 0 : this.size;
  }

  static async fromStream(source: AsyncIterable<Buffer>, options: SpoolOptions): Promise<Spool> {
    const hash = createHash('sha256');
    let parts: Buffer[] = [];
    let size = 0;
    if (source instanceof Readable && isUntouched(source)) {
      // Fast path (performance): a small message is gathered from 'data' events, without an async
      // iterator and a promise per chunk. Past the memory limit, the rest goes the usual way.
      const head = await readWhileSmall(source, options.memoryLimitBytes, hash);
      if (head.ended)
        return new Spool(head.size, hash.digest('hex'), Buffer.concat(head.parts, head.size), undefined);
      parts = head.parts;
      size = head.size;
    }
    let handle: FileHandle | undefined;
    let path: string | undefined;
    const toFile = async () => {
      // The random part keeps names unique across processes: a crashed run leaves its files in a
      // configured `dir`, and a later process can get the same pid (Lambda sandboxes,
      // containers); pid and counter alone then collide with a leftover, and `wx` fails that
      // message (it stays on the server, reported as failed) each time the names meet.
      const unique = `${process.pid}-${++counter}-${randomBytes(6).toString('hex')}`;
      path = join(await spoolDir(options.dir), `${unique}.eml`);
      handle = await open(path, 'wx', 0o600);
      for (const part of parts) await writeAll(handle, part);
      parts = [];
    };
    try {
      if (size > options.memoryLimitBytes) await toFile();
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        if (handle) {
          await writeAll(handle, chunk);
        } else {
          parts.push(chunk);
          if (size > options.memoryLimitBytes) await toFile();
        }
      }
      await handle?.close();
      handle = undefined;
    } catch (error) {
      await handle?.close().catch(() => {});
      if (path) await rm(path, { force: true });
      throw error;
    }
    const digest = hash.digest('hex');
    return path
      ? new Spool(size, digest, undefined, path)
      : new Spool(size, digest, Buffer.concat(parts, size), undefined);
  }

  /** A fresh stream of the bytes; may be called more than once (a store may retry). */
  body(): Readable {
    if (this.memory) return Readable.from([this.memory], { objectMode: false });
    return createReadStream(this.file!, { highWaterMark: 1024 * 1024 });
  }

  /** Up to `max` leading bytes (the header block, for metadata). */
  async head(max: number): Promise<Buffer> {
    if (this.memory) return this.memory.subarray(0, max);
    const handle = await open(this.file!, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(max, this.size));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** The whole message in memory, when it is held there. */
  get buffer(): Buffer | undefined {
    return this.memory;
  }

  async release(): Promise<void> {
    if (this.file) await rm(this.file, { force: true });
  }
}

export interface SpoolOptions {
  /** Messages larger than this go to a temp file. */
  readonly memoryLimitBytes: number;
  /** Where temp files go; default a private directory under the OS temp dir (`/tmp` in Lambda). */
  readonly dir?: string;
}

let counter = 0;

/** A stream nobody has read from yet: not flowing, not ended, not destroyed, nothing piped. */
function isUntouched(stream: Readable): boolean {
  return stream.readableFlowing === null && !stream.readableEnded && !stream.destroyed;
}

/**
 * Reads `stream` in flowing mode, hashing as it goes, until it ends or holds more than `limit`
 * octets; then pauses it and stops listening, so the caller can read the rest (e.g. with an async
 * iterator). Rejects as the stream fails.
 */
function readWhileSmall(
  stream: Readable,
  limit: number,
  hash: Hash,
): Promise<{ parts: Buffer[]; size: number; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const stop = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      parts.push(chunk);
      if (size > limit) {
        stream.pause();
        stop();
        resolve({ parts, size, ended: false });
      }
    };
    const onEnd = () => {
      stop();
      resolve({ parts, size, ended: true });
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    // Destroyed without an error: the same verdict as an async iterator's.
    const onClose = () => {
      stop();
      reject(
        stream.errored ?? Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }),
      );
    };
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.on('data', onData);
  });
}
let defaultDir: Promise<string> | undefined;

function spoolDir(dir: string | undefined): Promise<string> {
  if (dir) return Promise.resolve(dir);
  defaultDir ??= mkdtemp(join(tmpdir(), 'pop3-spool-'));
  return defaultDir;
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
