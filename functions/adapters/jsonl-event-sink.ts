import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { PollEvent } from '../poller/events';
import type { EventSink, PublishOutcome } from '../poller/ports';
import type { PublishFailure } from './eventbridge-sink';

/**
 * Writes events as JSON Lines, one `{ id, source, detailType, time, detail }` object per line, for
 * the CLI and local runs.
 *
 * To a file: opened for appending (flag `a`, so existing lines are never truncated and lines from
 * several runs or instances accumulate), all lines of one `publish` written at once, then fsync'd
 * before `publish` resolves, so a published event survives a crash. The file is opened per call,
 * which keeps nothing open between polls. To stdout: written and flushed, no fsync (a pipe or a
 * terminal has nothing to sync).
 *
 * A write failure is not thrown: all the call's event ids come back in `failedIds` (as with the
 * EventBridge sink) and `onFailure` is told why.
 */

export type JsonLinesEventSinkOptions = ({ readonly file: string } | { readonly stdout: true }) & {
  readonly onFailure?: (failure: PublishFailure) => void;
  /** For tests: the stream used for `stdout: true`. @default process.stdout */
  readonly stdoutStream?: Writable;
};

export class JsonLinesEventSink implements EventSink {
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
      if ('file' in this.options) await appendAndSync(this.options.file, text);
      else await writeTo(this.options.stdoutStream ?? process.stdout, text);
      return { failedIds: [] };
    } catch (error) {
      const ids = events.map((e) => e.id);
      this.options.onFailure?.({
        ids,
        errorCode: (error as NodeJS.ErrnoException).code ?? 'EWRITE',
        errorMessage: (error as Error).message,
      });
      return { failedIds: ids };
    }
  }
}

async function appendAndSync(path: string, text: string): Promise<void> {
  const file = await open(path, 'a', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
}

function writeTo(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, 'utf8', (error) => (error ? reject(error) : resolve()));
  });
}
