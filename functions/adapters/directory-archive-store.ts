import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ArchiveItem, ArchiveStore, StoredObject } from '../poller/ports';
import { ArchiveError } from './errors';

/**
 * Archives messages as files under a directory, for the CLI and local runs: `<dir>/<item.key>`,
 * i.e. `<dir>/<accountId>/<sha256>.eml`. Locations are `file://` URLs of the absolute path.
 *
 * Each write is crash-safe and never overwrites:
 * 1. the body goes to a temporary file beside the target (unique name, created exclusively),
 *    hashed as it is written, then fsync'd;
 * 2. its SHA-256 and size must equal the item's, else the temporary file is removed and the put
 *    fails;
 * 3. it is hard-linked to the target name — `link` fails if the name exists, so this is an atomic
 *    "create if absent" that a reader never sees half-written — and the temporary name removed;
 * 4. the directory is fsync'd so the new name survives a crash (and so are directories this put
 *    created, up to the first one that existed).
 * If the target already exists, it is hashed: identical → `alreadyExisted`, different → an
 * `ArchiveError` and the existing file is left as it was. The directory must be on a file system
 * with hard links (any local POSIX file system).
 */

export interface DirectoryArchiveStoreOptions {
  /** Root directory; created if absent. */
  readonly dir: string;
}

export class DirectoryArchiveStore implements ArchiveStore {
  private readonly root: string;

  constructor(options: DirectoryArchiveStoreOptions) {
    if (!options.dir) throw new Error('DirectoryArchiveStore: dir is required');
    this.root = resolve(options.dir);
  }

  async put(item: ArchiveItem): Promise<StoredObject> {
    const target = this.pathFor(item.key);
    const expected = item.sha256.toLowerCase();
    const parent = dirname(target);
    const firstCreated = await mkdir(parent, { recursive: true, mode: 0o700 });

    const temp = join(parent, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
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
        await link(temp, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        alreadyExisted = true;
      }
      await unlink(temp);
      if (alreadyExisted) await this.compareExisting(item, target, expected);
      else await syncDirectories(parent, firstCreated);
      return { location: pathToFileURL(target).href, sha256: expected, size: item.size, alreadyExisted };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      if (error instanceof ArchiveError) throw error;
      throw new ArchiveError(
        'unavailable',
        item.key,
        `writing ${item.key} under ${this.root} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The target path, refusing keys that would land outside the root (`..`, absolute paths). */
  private pathFor(key: string): string {
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

  private async compareExisting(item: ArchiveItem, target: string, expected: string): Promise<void> {
    const existing = await hashFile(target);
    if (existing.sha256 !== expected || existing.size !== item.size) {
      throw new ArchiveError(
        'conflict',
        item.key,
        `a different file already exists at ${target} (sha256 ${existing.sha256}, ${existing.size} octets; ` +
          `expected ${expected}, ${item.size} octets); not overwritten`,
      );
    }
  }
}

/** Writes the item's body to a new file, hashing it on the way, and fsyncs it. */
async function writeHashed(path: string, item: ArchiveItem): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  // `wx`: fail rather than write into a file that somehow already has this name.
  const file = await open(path, 'wx', 0o600);
  try {
    for await (const chunk of item.body()) {
      const bytes = chunk as Buffer;
      if (!(bytes instanceof Uint8Array)) throw new TypeError('archive item body must be a byte stream');
      hash.update(bytes);
      size += bytes.length;
      // Stop at once if the stream runs past the declared size, rather than fill the disk.
      if (size > item.size) break;
      await file.write(bytes);
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return { sha256: hash.digest('hex'), size };
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { sha256: hash.digest('hex'), size: (await stat(path)).size };
}

/** Fsyncs `dir` and, when this put created directories, each one above it up to the parent of the first created. */
async function syncDirectories(dir: string, firstCreated: string | undefined): Promise<void> {
  const dirs = [dir];
  if (firstCreated !== undefined) {
    const stop = dirname(firstCreated);
    for (let d = dir; d !== stop && dirname(d) !== d;) {
      d = dirname(d);
      dirs.push(d);
    }
  }
  for (const d of dirs) {
    const handle = await open(d, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
