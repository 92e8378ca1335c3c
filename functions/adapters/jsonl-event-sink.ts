import { closeSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { PollEvent } from '../poller/events';
import type { EventSink, PublishOutcome } from '../poller/ports';
import { localPathError } from './errors';
import type { PublishFailure } from './eventbridge-sink';
import { fsyncInPool } from './fsync';
import { writeFullySync } from './write-fully';

/**
 * Writes events as JSON Lines, one `{ id, source, detailType, time, detail }` object per line, for
 * the CLI and local runs.
 *
 * To a file: opened for appending (flag `a`, so existing lines are never truncated and lines from
 * several runs or instances accumulate), all lines of one `publish` written at once, then fsync'd
 * before `publish` resolves, so a published event survives a crash. The file is opened per write,
 * which keeps nothing open between polls. To stdout: written and flushed, no fsync (a pipe or a
 * terminal has nothing to sync).
 *
 * Group commit (performance): calls that arrive while a write + fsync is in progress are written
 * together with one write and one fsync as soon as it finishes, and each call resolves only after
 * the fsync that covers its own lines. Durability per call is unchanged; a drain of 1000 messages
 * pays tens of fsyncs instead of hundreds. A failed write or fsync fails every call in its group.
 *
 * A write failure is not thrown: all the call's event ids come back in `failedIds` (as with the
 * EventBridge sink) and `onFailure` is told why: for a file, the OS error code (`EACCES`, `ENOSPC`,
 * …) and one line naming the events file and the error (errors.ts `localPathError`), and the
 * outcome is `retryable` as that error is (a full disk yes; a permission or a read-only mount no).
 * The file's directory must exist (the CLI creates it before a run). Nothing is retried here: the
 * workflow keeps the messages whose events failed on the server for the next run.
 */

export type JsonLinesEventSinkOptions = ({ readonly file: string } | { readonly stdout: true }) & {
  readonly onFailure?: (failure: PublishFailure) => void;
  /** For tests: the stream used for `stdout: true`. @default process.stdout */
  readonly stdoutStream?: Writable;
};

export class JsonLinesEventSink implements EventSink {
  /** Lines waiting for the next group write, with their callers. */
  private queue: Array<{ text: string; resolve: () => void; reject: (error: unknown) => void }> = [];
  private writing = false;

  constructor(private readonly options: JsonLinesEventSinkOptions) {
    if ('file' in options && !options.file) throw new Error('JsonLinesEventSink: file must not be empty');
  }

  async publish(events: readonly PollEvent[]): Promise<PublishOutcome> {
    if (events.length === 0) return { failedIds: [] };
    const text = events
      .map(
        ({ id, source, detailType, time, detail }) =>
          JSON.stringify({ id, source, detailType, time, detail }) + '\n',
      )
      .join('');
    try {
      if ('file' in this.options) await this.append(this.options.file, text);
      else await writeTo(this.options.stdoutStream ?? process.stdout, text);
      return { failedIds: [] };
    } catch (error) {
      const ids = events.map((e) => e.id);
      const local =
        'file' in this.options ? localPathError('events file', this.options.file, error) : undefined;
      this.options.onFailure?.({
        ids,
        errorCode: (error as NodeJS.ErrnoException).code ?? 'EWRITE',
        errorMessage: local ? local.message : `events to stdout: ${(error as Error).message}`,
      });
      // A file's OS error says whether a retry can help, as for the archive directory.
      return local ? { failedIds: ids, retryable: local.retryable } : { failedIds: ids };
    }
  }

  /** Queues `text` for the next group write to `file`; resolves once it is written and fsync'd. */
  private append(file: string, text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text, resolve, reject });
      if (!this.writing) void this.writeGroups(file);
    });
  }

  private async writeGroups(file: string): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const group = this.queue.splice(0);
      try {
        await appendAndSync(file, group.length === 1 ? group[0]!.text : group.map((g) => g.text).join(''));
        for (const g of group) g.resolve();
      } catch (error) {
        for (const g of group) g.reject(error);
      }
    }
    this.writing = false;
  }
}

/**
 * Appends `text` and fsyncs. Open, write and close are quick system calls made synchronously; only
 * the fsync, which waits for the device, goes through the thread pool (see fsync.ts).
 */
async function appendAndSync(path: string, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  const fd = openSync(path, 'a', 0o600);
  try {
    // `a` (O_APPEND): every write lands at the end of the file, whatever else appends to it.
    writeFullySync(fd, bytes, path);
    await fsyncInPool(fd);
  } finally {
    closeSync(fd);
  }
}

function writeTo(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, 'utf8', (error) => (error ? reject(error) : resolve()));
  });
}
