import { createReadStream, type Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EVENT_SOURCE } from '../poller/events';
import type { ArchiveEntry, ArchiveReader, ArchiveRecord, ListOptions, OpenedEntry } from '../replay/ports';
import { ARCHIVE_LOG_NAME } from './archive-log';
import { ArchiveError, localPathError } from './errors';

/**
 * Reads a directory archive (DirectoryArchiveStore's layout) for replay: `<dir>/<account>/<sha256>.eml`
 * joined with the account's append-only log `<dir>/<account>/archive-log.jsonl`, which holds one
 * line per put: `{"key","sha256","size","uidl","archivedAt","source"}`.
 *
 * - Each distinct (key, uidl) in the log is one original event; a repeated line (the same message
 *   stored again after an interrupted run) is the same event, and its first line wins.
 * - A message with no line (an archive older than the log, or a file copied in) is one event with
 *   no UIDL, archived at the file's mtime, source `pop3-poller`.
 * - A log line that does not parse (a line torn by a crash mid-append) is ignored: the put it
 *   belonged to had not resolved, so no event was published for it.
 * - Only names of the form `<64 hex>.eml` are messages: the store's temp files (`.<name>.*.tmp`)
 *   and anything else are ignored; so are folders whose names start with a dot (`.state`).
 *
 * It only reads: no file is created, written, renamed or touched (a read may update atime where the
 * mount records it; mtimes never change).
 */
export interface DirectoryArchiveReaderOptions {
  readonly dir: string;
}

const MESSAGE_NAME = /^[0-9a-f]{64}\.eml$/;

/** Files up to this size are read in one call; larger ones are streamed. */
const WHOLE_READ_MAX_BYTES = 1024 * 1024;

export class DirectoryArchiveReader implements ArchiveReader {
  private readonly root: string;

  constructor(options: DirectoryArchiveReaderOptions) {
    if (!options.dir) throw new Error('DirectoryArchiveReader: dir is required');
    this.root = resolve(options.dir);
  }

  async accounts(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (error) {
      throw this.failure(error, this.root);
    }
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  }

  async *list(accountId: string, options: ListOptions = {}): AsyncGenerator<ArchiveEntry> {
    const folder = join(this.root, accountId);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      // An account with nothing archived yet has no folder.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.failure(error, folder);
    }
    const log = await this.readLog(accountId, folder);
    const keys = names
      .filter((name) => MESSAGE_NAME.test(name))
      .map((name) => `${accountId}/${name}`)
      .filter((key) => options.startAfter === undefined || key > options.startAfter)
      .filter((key) => options.keyPrefix === undefined || key.startsWith(options.keyPrefix))
      .sort();
    const folderUrl = pathToFileURL(folder).href.replace(/\/$/, '');
    for (const key of keys) {
      const name = key.slice(accountId.length + 1);
      const path = join(folder, name);
      let info;
      try {
        info = await stat(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw this.failure(error, path);
      }
      if (!info.isFile()) continue;
      // Node's own Date of the file time (flooring mtimeMs loses a millisecond to rounding).
      const modifiedAt = info.mtime;
      yield {
        accountId,
        key,
        sha256: name.slice(0, 64),
        size: info.size,
        location: `${folderUrl}/${name}`,
        modifiedAt,
        records: log.get(key) ?? [{ uidl: null, archivedAt: modifiedAt, source: EVENT_SOURCE }],
      };
    }
  }

  async open(entry: ArchiveEntry): Promise<OpenedEntry> {
    const path = join(this.root, entry.key);
    if (entry.size <= WHOLE_READ_MAX_BYTES) {
      // Performance: most mail is small, and one read of the whole file costs a fraction of a
      // stream (whose 1 MiB read buffer is allocated per file and copied out of).
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (error) {
        throw this.failure(error, path);
      }
      return { records: entry.records ?? [], body: once(bytes), discard: () => undefined };
    }
    const stream = createReadStream(path, { flags: 'r', highWaterMark: 1024 * 1024 });
    await new Promise<void>((ready, fail) => {
      stream.once('open', () => ready());
      stream.once('error', fail);
    }).catch((error: unknown) => {
      throw this.failure(error, path);
    });
    return {
      records: entry.records ?? [],
      body: stream,
      discard: () => stream.destroy(),
    };
  }

  /** The account's log, as records per key (distinct UIDLs, first line first). */
  private async readLog(accountId: string, folder: string): Promise<Map<string, ArchiveRecord[]>> {
    const path = join(folder, ARCHIVE_LOG_NAME);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw this.failure(error, path);
    }
    const byKey = new Map<string, ArchiveRecord[]>();
    for (const line of text.split('\n')) {
      const record = parseLine(line, accountId);
      if (!record) continue;
      const records = byKey.get(record.key) ?? [];
      if (!records.some((r) => r.uidl === record.uidl)) records.push(record.record);
      byKey.set(record.key, records);
    }
    return byKey;
  }

  private failure(error: unknown, path: string): ArchiveError {
    const local = localPathError('archive directory', this.root, { ...(error as object), path });
    return new ArchiveError('unavailable', path, local.message, { cause: error, retryable: local.retryable });
  }
}

/** One log line, when it is a complete record of this account's folder. */
function parseLine(
  line: string,
  accountId: string,
): { key: string; uidl: string | null; record: ArchiveRecord } | undefined {
  if (line.trim() === '') return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { key, uidl, archivedAt, source } = value ?? {};
  if (typeof key !== 'string' || !key.startsWith(`${accountId}/`)) return undefined;
  if (uidl !== null && typeof uidl !== 'string') return undefined;
  const time = typeof archivedAt === 'string' ? new Date(archivedAt) : undefined;
  if (time === undefined || Number.isNaN(time.getTime())) return undefined;
  return {
    key,
    uidl,
    record: { uidl, archivedAt: time, source: typeof source === 'string' && source ? source : EVENT_SOURCE },
  };
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
