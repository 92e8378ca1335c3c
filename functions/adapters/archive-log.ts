import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncInPool } from './fsync';
import { writeFullySync } from './write-fully';

/**
 * The directory archive's record of what each message's event was built from: one append-only
 * JSON-lines file per account directory, `<dir>/<accountId>/archive-log.jsonl`, one line per put
 * (an object found already there gets a line too). Replay (functions/replay) joins it with the
 * `.eml` files to rebuild each original event exactly: the UIDL is part of the event id, and the
 * archive time and event source are part of the event. The message metadata (subject, from,
 * attachments) is not recorded: replay recomputes it from the bytes (docs/replay.md says why).
 *
 * Lines are only ever appended; a reader takes the first line for a (key, uidl) pair. A message
 * file with no line (archived by a version before the log, or copied in) replays with a null UIDL,
 * its file time as archive time (the store sets it to `archivedAt`) and the default source.
 */

export const ARCHIVE_LOG_NAME = 'archive-log.jsonl';

export interface ArchiveLogEntry {
  /** The archive key, relative to the archive directory: `<accountId>/<sha256>.eml`. */
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
  readonly uidl: string | null;
  /** ISO 8601, UTC, milliseconds. */
  readonly archivedAt: string;
  /** The event's source (`pop3-poller`, or the configured one). */
  readonly source: string;
}

/**
 * Appends lines to one directory's log with a group commit, as the JSON-lines event sink does:
 * lines that arrive while a write + fsync runs are written together by the next one, and each
 * `append` resolves only after the fsync that covers its line. The file is opened per group (not
 * held open: a CLI run over many accounts would hold a descriptor per account), and the first
 * group also fsyncs the directory, so the log's own name survives a crash.
 */
export class ArchiveLog {
  private queue: Array<{ text: string; resolve: () => void; reject: (error: unknown) => void }> = [];
  private running = false;
  private directorySynced = false;
  /** Whether this log's end was checked for a line torn by a crash (see `write`). */
  private endChecked = false;

  constructor(
    private readonly dir: string,
    private readonly syncDirectory: (dir: string) => Promise<void>,
  ) {}

  get path(): string {
    return join(this.dir, ARCHIVE_LOG_NAME);
  }

  append(entry: ArchiveLogEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text: JSON.stringify(entry) + '\n', resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        await this.write(group.map((line) => line.text).join(''));
        for (const line of group) line.resolve();
      } catch (error) {
        for (const line of group) line.reject(error);
      }
    }
    this.running = false;
  }

  private async write(text: string): Promise<void> {
    const path = this.path;
    const fd = openSync(path, this.endChecked ? 'a' : 'a+', 0o600);
    try {
      // A crash in the middle of an append can leave a line without its newline; a line appended
      // to it would be lost with it (the reader skips what does not parse). Once per store, start
      // on a fresh line when the file does not end with one.
      if (!this.endChecked) {
        if (!endsWithNewline(fd)) text = '\n' + text;
        this.endChecked = true;
      }
      writeFullySync(fd, Buffer.from(text, 'utf8'), path);
      await fsyncInPool(fd);
    } finally {
      closeSync(fd);
    }
    if (!this.directorySynced) {
      await this.syncDirectory(this.dir);
      this.directorySynced = true;
    }
  }
}

/** True for an empty file or one whose last byte is a newline. */
function endsWithNewline(fd: number): boolean {
  const { size } = fstatSync(fd);
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === 0x0a;
}
