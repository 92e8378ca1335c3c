import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, rmdirSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PollError } from './errors';
import { hashedBuffers } from './ports';

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

  /**
   * A message already whole in memory (an S3 object read at once): hashed once, recorded in
   * `hashedBuffers`, held as the very Buffer given, which must never be modified.
   */
  static fromBuffer(bytes: Buffer): Spool {
    const digest = createHash('sha256').update(bytes).digest('hex');
    hashedBuffers.set(bytes, digest);
    return new Spool(bytes.length, digest, bytes, undefined);
  }

  static async fromStream(source: AsyncIterable<Buffer>, options: SpoolOptions): Promise<Spool> {
    const hash = createHash('sha256');
    let parts: Buffer[] = [];
    let size = 0;
    if (isCollectable(source)) {
      // Fast path (performance): the message's chunks are taken straight from the POP3 session,
      // without the Readable machinery. A message that fits in memory is joined first and hashed
      // once, as the one Buffer the archive writes: the digest then covers exactly those bytes,
      // and the archive takes it from `hashedBuffers` rather than hashing them a second time.
      // Past the memory limit, the rest comes through the stream (below) and goes to a file.
      const head = await source.collect(options.memoryLimitBytes);
      if (head.ended) {
        const buffer = Buffer.concat(head.parts, head.size);
        const digest = createHash('sha256').update(buffer).digest('hex');
        hashedBuffers.set(buffer, digest);
        return new Spool(head.size, digest, buffer, undefined);
      }
      for (const part of head.parts) hash.update(part);
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
      if (path) await rm(path, { force: true }).catch(() => {});
      throw spoolError(error, options.dir);
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

/** A source that can hand over its first bytes directly (the POP3 client's MessageStream). */
interface Collectable extends AsyncIterable<Buffer> {
  collect(limit: number): Promise<{ parts: Buffer[]; size: number; ended: boolean }>;
}

function isCollectable(source: AsyncIterable<Buffer>): source is Collectable {
  return typeof (source as Partial<Collectable>).collect === 'function';
}

let defaultDir: Promise<string> | undefined;

function spoolDir(dir: string | undefined): Promise<string> {
  if (dir) return Promise.resolve(dir);
  defaultDir ??= mkdtemp(join(tmpdir(), 'pop3-spool-')).then((made) => {
    // Each spool file is removed when its message is done; the directory goes when the process
    // ends (a CLI run), so that runs do not leave one empty directory each behind. rmdir removes
    // only an empty directory. (A Lambda environment keeps it for its next invocation.)
    process.once('exit', () => {
      try {
        rmdirSync(made);
      } catch {
        // not empty, or gone already: leave it
      }
    });
    return made;
  });
  return defaultDir;
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    // write(2) returning 0 would repeat for ever: fail instead.
    if (bytesWritten <= 0) {
      throw Object.assign(new Error('EIO: no bytes could be written to a spool file'), {
        code: 'EIO',
        path: '',
      });
    }
    offset += bytesWritten;
  }
}

/** OS codes after which a later run can succeed (a full disk or quota, too many open files). */
const TEMPORARY = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EINTR']);

/**
 * A spool file that could not be made or written, as one line naming the spool directory and the
 * OS error (`EARCHIVE`: the message cannot be stored, so it stays on the server). Errors that are
 * not the file system's (the POP3 stream's own) pass through unchanged.
 */
function spoolError(error: unknown, dir: string | undefined): unknown {
  // File-system errors carry the path they happened at; a socket's or the POP3 client's do not.
  const e = error as { code?: unknown; path?: unknown; message?: unknown } | undefined;
  const errno = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) ? e.code : undefined;
  if (!errno || typeof e?.path !== 'string') return error;
  const where = dir ?? join(tmpdir(), 'pop3-spool-*');
  const what = String(e?.message ?? errno).split('\n')[0];
  return new PollError('EARCHIVE', `spool directory ${where}: ${what}`, {
    cause: error,
    retryable: TEMPORARY.has(errno),
  });
}
