import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, futimesSync, linkSync, openSync, unlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashedBuffers, type ArchiveItem, type ArchiveStore, type StoredObject } from '../poller/ports';
import { ArchiveLog } from './archive-log';
import { ArchiveError, localPathError } from './errors';
import { fsyncInPool } from './fsync';
import { makeDirectory } from './make-directory';
import { writeFullySync } from './write-fully';

/**
 * Archives messages as files under a directory, for the CLI and local runs: `<dir>/<item.key>`,
 * i.e. `<dir>/<accountId>/<sha256>.eml`. Locations are `file://` URLs of the absolute path.
 *
 * Each write is crash-safe and never overwrites:
 * 1. the body goes to a temporary file beside the target (unique name, created exclusively),
 *    hashed as it is written (a Buffer hashed already over exactly its bytes, `hashedBuffers`,
 *    keeps that digest), then fsync'd;
 * 2. its SHA-256 and size must equal the item's, else the temporary file is removed and the put
 *    fails;
 * 3. it is hard-linked to the target name — `link` fails if the name exists, so this is an atomic
 *    "create if absent" that a reader never sees half-written — and the temporary name removed;
 * 4. the directory is fsync'd so the new name survives a crash (and so are directories this put
 *    created, up to the first one that existed); `put` resolves only after an fsync of the
 *    directory that began after its link.
 * If the target already exists, it is hashed: identical → `alreadyExisted`, different → an
 * `ArchiveError` and the existing file is left as it was.
 * 5. beside the message, a line in the account directory's `archive-log.jsonl` records its UIDL,
 *    archive time and event source (archive-log.ts), fsync'd before `put` resolves: replay rebuilds
 *    the message's event from it. The file's modification time is set to the archive time too, so
 *    an object found already there reports the time it was first archived. The directory must be on a file system
 * with hard links (any local POSIX file system).
 *
 * A file-system failure (permission, read-only or full file system, a file where a directory
 * belongs, a path under /proc) fails the put at once with an `ArchiveError` whose one-line message
 * names the archive directory, the OS error code and the path it happened at; it is `retryable`
 * only for a full disk and the like (errors.ts). No step is retried; directories are created in a
 * bounded number of steps (make-directory.ts).
 *
 * Performance (measured with bench/cli-drain.ts): concurrent puts share work without weakening
 * any of the above. A directory is created (and its new entries fsync'd) once per store rather
 * than `mkdir -p` per put; and the directory fsync is a group commit — one fsync runs at a time
 * per directory, and every put whose link completed while it ran waits for the next one, which
 * covers all of them. Temp names take a per-store random part and a counter instead of fresh
 * random bytes per put. Only the fsyncs go through the thread pool (they wait for the device);
 * open, write, close, link and unlink are made synchronously, since each is a quick system call
 * and a round trip through the pool costs more CPU than the call itself (futex hand-offs, promise
 * per call). They block the event loop for microseconds; the network buffers meanwhile.
 */

/**
 * A relative key of plain names: letters, digits, `_`, `-` and dots, none of them `.` or `..`,
 * separated by single slashes.
 */
const SIMPLE_KEY = /^(?!\.\.?(?:\/|$))[\w-][\w.-]*(?:\/(?!\.\.?(?:\/|$))[\w.-]+)*$/;

export interface DirectoryArchiveStoreOptions {
  /** Root directory; created if absent. */
  readonly dir: string;
}

export class DirectoryArchiveStore implements ArchiveStore {
  private readonly root: string;
  /** Directories made ready (created, entries durable) by this store, by path. */
  private readonly directories = new Map<string, Promise<void>>();
  /** `file://` URLs of directories, without a trailing slash. */
  private readonly directoryUrls = new Map<string, string>();
  /** One group-commit fsync per directory. */
  private readonly directorySyncs = new Map<string, GroupSync>();
  /** One archive log per directory. */
  private readonly logs = new Map<string, ArchiveLog>();
  /** Unique per store (pid and random part) and per put (counter): temp names never collide. */
  private readonly tempPrefix = `${process.pid}.${randomBytes(6).toString('hex')}`;
  private tempCounter = 0;

  constructor(options: DirectoryArchiveStoreOptions) {
    if (!options.dir) throw new Error('DirectoryArchiveStore: dir is required');
    this.root = resolve(options.dir);
  }

  async put(item: ArchiveItem): Promise<StoredObject> {
    const target = this.pathFor(item.key);
    const expected = item.sha256.toLowerCase();
    const parent = dirname(target);
    const temp = join(parent, `.${basename(target)}.${this.tempPrefix}.${++this.tempCounter}.tmp`);
    try {
      await this.directoryReady(parent);
      const written = await writeHashed(temp, item);
      if (written.size !== item.size || written.sha256 !== expected) {
        throw new ArchiveError(
          'integrity',
          item.key,
          `message body for ${item.key} is ${written.size} octets hashing to ${written.sha256}; ` +
            `expected ${item.size} octets, ${expected}`,
        );
      }
      let alreadyExisted = false;
      try {
        linkSync(temp, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        alreadyExisted = true;
      }
      unlinkSync(temp);
      let archivedAt = item.archivedAt;
      if (alreadyExisted) {
        archivedAt = await this.compareExisting(item, target, expected);
        await this.logFor(parent).append(logEntry(item, expected, archivedAt));
      } else {
        await Promise.all([
          this.syncDirectory(parent),
          this.logFor(parent).append(logEntry(item, expected, archivedAt)),
        ]);
      }
      const location = this.locationOf(parent, target);
      return { location, sha256: expected, size: item.size, alreadyExisted, archivedAt };
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // not created, or already removed
      }
      // The directory may have been removed under us: the next put makes it again.
      this.directories.delete(parent);
      if (error instanceof ArchiveError) throw error;
      if (typeof (error as NodeJS.ErrnoException).code !== 'string') {
        // Not the file system's: the item's body stream failed (the spool).
        throw new ArchiveError(
          'unavailable',
          item.key,
          `writing ${item.key} under ${this.root} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      // A temporary file's name means nothing to the user: name the directory it was to go in.
      const failed = error as NodeJS.ErrnoException;
      const local = localPathError(
        'archive directory',
        this.root,
        failed.path === temp ? { code: failed.code, path: parent } : error,
      );
      throw new ArchiveError('unavailable', item.key, local.message, {
        cause: error,
        retryable: local.retryable,
      });
    }
  }

  /**
   * Creates `dir` (and missing parents) once per store, and makes the new directories' own entries
   * durable (fsync of each parent of a created directory). Concurrent puts share the one attempt;
   * a failed attempt is forgotten so that the next put tries again.
   */
  private directoryReady(dir: string): Promise<void> {
    let ready = this.directories.get(dir);
    if (!ready) {
      ready = makeDirectory(dir).then((firstCreated) =>
        firstCreated === undefined ? undefined : syncParents(dir, firstCreated),
      );
      this.directories.set(dir, ready);
      ready.catch(() => this.directories.delete(dir));
    }
    return ready;
  }

  /**
   * The `file://` URL of `target` in `dir`: the directory's URL (computed once) plus the file name
   * when that needs no escaping (`<sha256>.eml` never does), else `pathToFileURL` of the whole.
   */
  private locationOf(dir: string, target: string): string {
    const name = basename(target);
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return pathToFileURL(target).href;
    let prefix = this.directoryUrls.get(dir);
    if (prefix === undefined) {
      prefix = pathToFileURL(dir).href.replace(/\/$/, '');
      this.directoryUrls.set(dir, prefix);
    }
    return `${prefix}/${name}`;
  }

  private logFor(dir: string): ArchiveLog {
    let log = this.logs.get(dir);
    if (!log) this.logs.set(dir, (log = new ArchiveLog(dir, (d) => this.syncDirectory(d))));
    return log;
  }

  /** Resolves after an fsync of `dir` that began after this call (see GroupSync). */
  private syncDirectory(dir: string): Promise<void> {
    let sync = this.directorySyncs.get(dir);
    if (!sync) this.directorySyncs.set(dir, (sync = new GroupSync(() => fsyncPath(dir))));
    return sync.request();
  }

  /** The target path, refusing keys that would land outside the root (`..`, absolute paths). */
  private pathFor(key: string): string {
    // Performance: the usual key (`<account>/<sha256>.eml`, plain names without `.` or `..`
    // segments) is joined as is; resolving and relativising it per put cost ~10 µs.
    if (SIMPLE_KEY.test(key)) return this.root + sep + (sep === '/' ? key : key.replaceAll('/', sep));
    const target = resolve(this.root, key);
    const rel = relative(this.root, target);
    if (
      !key ||
      isAbsolute(key) ||
      rel === '' ||
      rel.startsWith(`..${sep}`) ||
      rel === '..' ||
      isAbsolute(rel)
    ) {
      throw new Error(
        `DirectoryArchiveStore: archive key ${JSON.stringify(key)} is not a relative path inside the store`,
      );
    }
    return target;
  }

  /** Checks the file already at `target` against the item; returns when it was archived. */
  private async compareExisting(item: ArchiveItem, target: string, expected: string): Promise<Date> {
    const existing = await hashFile(target);
    if (existing.sha256 !== expected || existing.size !== item.size) {
      throw new ArchiveError(
        'conflict',
        item.key,
        `a different file already exists at ${target} (sha256 ${existing.sha256}, ${existing.size} octets; ` +
          `expected ${expected}, ${item.size} octets); not overwritten`,
      );
    }
    // Its modification time is the time it was first archived (set when it was written).
    return existing.modified;
  }
}

/** Writes the item's body to a new file, hashing it on the way, and fsyncs it. */
async function writeHashed(path: string, item: ArchiveItem): Promise<{ sha256: string; size: number }> {
  // `wx`: fail rather than write into a file that somehow already has this name.
  const fd = openSync(path, 'wx', 0o600);
  try {
    // A message held in memory is written as is, without a stream (`bytes`, when given): a small
    // synchronous step, where a for-await over a stream per message cost CPU (and JIT time).
    const written = item.bytes
      ? writeBytes(fd, path, item.bytes, item.size)
      : await writeStream(fd, path, item);
    // The file's times say when it was archived (the link keeps them): a put that finds it later,
    // and replay without a log line, read the archive time from here.
    futimesSync(fd, item.archivedAt, item.archivedAt);
    await fsyncInPool(fd);
    return written;
  } finally {
    closeSync(fd);
  }
}

/**
 * Hashes and writes one buffer (nothing, if it is longer than declared: the size check fails). A
 * buffer hashed already, over exactly its bytes (`hashedBuffers`, the spool's), is not hashed again.
 */
function writeBytes(
  fd: number,
  path: string,
  bytes: Buffer,
  declaredSize: number,
): { sha256: string; size: number } {
  const sha256 = hashedBuffers.get(bytes) ?? createHash('sha256').update(bytes).digest('hex');
  if (bytes.length <= declaredSize) writeFullySync(fd, bytes, path);
  return { sha256, size: bytes.length };
}

async function writeStream(
  fd: number,
  path: string,
  item: ArchiveItem,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of item.body()) {
    const bytes = chunk as Buffer;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('archive item body must be a byte stream');
    hash.update(bytes);
    size += bytes.length;
    // Stop at once if the stream runs past the declared size, rather than fill the disk.
    if (size > item.size) break;
    writeFullySync(fd, bytes, path);
  }
  return { sha256: hash.digest('hex'), size };
}

async function hashFile(path: string): Promise<{ sha256: string; size: number; modified: Date }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const stats = await stat(path);
  return { sha256: hash.digest('hex'), size: stats.size, modified: stats.mtime };
}

function logEntry(item: ArchiveItem, sha256: string, archivedAt: Date) {
  return {
    key: item.key,
    sha256,
    size: item.size,
    uidl: item.uidl ?? null,
    archivedAt: archivedAt.toISOString(),
    source: item.source,
  };
}

/**
 * `dir` was created along with its missing parents, the first created being `firstCreated`: fsyncs
 * the parent of each created directory, from `dir`'s parent up to `firstCreated`'s, so that the new
 * directories survive a crash. (`dir` itself is fsync'd after each link.)
 */
async function syncParents(dir: string, firstCreated: string): Promise<void> {
  const stop = dirname(firstCreated);
  for (let d = dir; d !== stop && dirname(d) !== d;) {
    d = dirname(d);
    await fsyncPath(d);
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncInPool(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Group commit for an fsync: at most one runs at a time; `request()` resolves after an fsync that
 * began after the call. A caller arriving while one runs (which may have begun before the caller's
 * change) waits for the next, which begins when the running one ends and serves every caller that
 * arrived meanwhile. A failed fsync fails the callers it served, and the next request starts anew.
 */
class GroupSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly fsync: () => Promise<void>) {}

  request(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run = this.fsync();
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }
}
