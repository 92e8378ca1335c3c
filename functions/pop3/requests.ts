import { encodeCommand } from './command';
import { Pop3Error } from './errors';
import { MessageStream } from './message-stream';
import type { Pending } from './pipeline';
import type { StatusLine } from './reply-decoder';
import type { Session } from './session';

/**
 * The three shapes of a command's reply (RFC 1939 §3): a single status line, a multi-line reply
 * collected whole, and a multi-line reply handed over as a stream. Each builds the `Pending` the
 * session queues and settles the caller's promise from the reply.
 */

/** What a command does with its reply, given how to settle the caller's promise. */
type ReplyHandlers<T> = (
  resolve: (value: T) => void,
  reject: (error: Pop3Error) => void,
) => Omit<Pending, 'verb' | 'line' | 'exclusive' | 'fail'> & { failStream?(error: Pop3Error): void };

/** A command with a single-line reply. */
export function simple(
  session: Session,
  verb: string,
  args: ReadonlyArray<string | number>,
  sensitive = false,
): Promise<StatusLine> {
  return request(session, verb, args, (resolve, reject) => ({
    status: (status) => {
      if (status.kind === 'ok') resolve(status);
      else reject(session.replyError(verb, status, sensitive));
      return 'done';
    },
  }));
}

/** A command with a multi-line reply, collected whole (bounded by `maxBytes`). */
export function multiBuffered(
  session: Session,
  verb: string,
  args: ReadonlyArray<string | number>,
  maxBytes: number,
): Promise<Buffer> {
  return request(session, verb, args, (resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let error: Pop3Error | undefined;
    const tooBig = () =>
      new Pop3Error('ELIMIT', `${verb} reply exceeds ${maxBytes} octets`, { command: verb });
    return {
      status: (status) => {
        if (status.kind === 'ok') return 'body';
        reject(session.replyError(verb, status, false));
        return 'done';
      },
      data: (chunk) => {
        size += chunk.length;
        if (size > maxBytes) error ??= tooBig();
        else parts.push(chunk);
      },
      overflow: () => (error ??= tooBig()),
      end: () => (error ? reject(error) : resolve(Buffer.concat(parts, size))),
    };
  });
}

/** A command whose multi-line reply is handed over as a stream, with backpressure. */
export function multiStream(
  session: Session,
  verb: string,
  args: ReadonlyArray<string | number>,
  messageNumber: number,
): Promise<MessageStream> {
  return request(session, verb, args, (resolve, reject) => {
    let stream: MessageStream | undefined;
    const limit = session.maxMessageBytes;
    return {
      status: (status) => {
        if (status.kind !== 'ok') {
          reject(session.replyError(verb, status, false));
          return 'done';
        }
        stream = new MessageStream(messageNumber, () => session.resumeForConsumer(), 256 * 1024);
        resolve(stream);
        return 'body';
      },
      data: (chunk) => {
        if (!stream || stream.destroyed) return;
        if (stream.bytesReceived + chunk.length > limit) {
          stream.destroy(
            new Pop3Error('ELIMIT', `message ${messageNumber} exceeds ${limit} octets`, { command: verb }),
          );
          return;
        }
        if (!stream.deliver(chunk)) session.pauseForConsumer();
      },
      overflow: () =>
        stream?.destroy(
          new Pop3Error('ELIMIT', `message ${messageNumber} exceeds ${limit} octets`, { command: verb }),
        ),
      end: () => stream?.finish(),
      failStream: (error: Pop3Error) => {
        if (stream && !stream.destroyed && !stream.readableEnded) stream.destroy(error);
      },
    };
  });
}

function request<T>(
  session: Session,
  verb: string,
  args: ReadonlyArray<string | number>,
  handlers: ReplyHandlers<T>,
): Promise<T> {
  const promise = new Promise<T>((resolve, reject) => {
    const line = encodeCommand(verb, ...args);
    const h = handlers(resolve, reject);
    session.enqueue({
      verb,
      line,
      exclusive: false,
      ...h,
      fail: (error) => {
        h.failStream?.(error);
        reject(error);
      },
    });
  });
  // Callers may issue many commands and await them in order; a rejection of one not yet awaited
  // must not be reported as unhandled. Awaiting the returned promise still sees the rejection.
  promise.catch(() => {});
  return promise;
}
