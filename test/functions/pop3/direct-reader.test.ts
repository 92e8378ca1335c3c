import type { Socket } from 'node:net';
import { DirectReader } from '../../../functions/pop3/direct-reader';

/** The two socket calls the reader makes, recorded. */
function fakeSocket() {
  const calls: string[] = [];
  const socket = {
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  } as unknown as Socket;
  return { socket, calls };
}

/** Feeds `text` through the reader's onread callback the way Node does: into the reused buffer. */
function read(reader: DirectReader, text: string): boolean {
  const bytes = Buffer.from(text);
  bytes.copy(reader.onread.buffer);
  return reader.onread.callback(bytes.length, reader.onread.buffer);
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('DirectReader', () => {
  it('hands each read to the consumer as its own copy, in order', () => {
    const reader = new DirectReader();
    const { socket, calls } = fakeSocket();
    const got: Buffer[] = [];
    reader.start(socket, (chunk) => got.push(chunk));
    expect(calls).toEqual(['resume']);

    expect(read(reader, '+OK one\r\n')).toBe(true);
    expect(read(reader, '+OK two\r\n')).toBe(true);

    // The read buffer was overwritten by the second read; the first chunk is unchanged.
    expect(got.map(String)).toEqual(['+OK one\r\n', '+OK two\r\n']);
    expect(got[0]!.buffer).not.toBe(reader.onread.buffer.buffer);
  });

  it('keeps what arrives before a consumer is attached, and stops reading until then', () => {
    const reader = new DirectReader();
    expect(read(reader, '+OK greeting\r\n')).toBe(false);
    const got: string[] = [];
    const { socket } = fakeSocket();
    reader.start(socket, (chunk) => got.push(String(chunk)));
    expect(got).toEqual(['+OK greeting\r\n']);
  });

  it('while paused keeps reads waiting and asks for no more; resume delivers them on the next tick', async () => {
    const reader = new DirectReader();
    const { socket, calls } = fakeSocket();
    const got: string[] = [];
    reader.start(socket, (chunk) => {
      got.push(String(chunk));
      if (got.length === 1) reader.pause();
    });

    expect(read(reader, 'a')).toBe(false); // the consumer paused while taking it
    expect(read(reader, 'b')).toBe(false); // TLS can hand over more records after a pause
    expect(got).toEqual(['a']);
    expect(calls).toEqual(['resume', 'pause']);

    reader.resume();
    expect(got).toEqual(['a']); // not from inside resume()
    await nextTick();
    expect(got).toEqual(['a', 'b']);
    expect(calls).toEqual(['resume', 'pause', 'resume']);
  });

  it('never delivers a chunk while the consumer is still handling the one before', () => {
    const reader = new DirectReader();
    const { socket } = fakeSocket();
    const events: string[] = [];
    reader.start(socket, (chunk) => {
      events.push(`begin ${chunk}`);
      // A read arriving from inside the consumer (a write that makes TLS read) waits its turn.
      if (String(chunk) === 'a') read(reader, 'b');
      events.push(`end ${chunk}`);
    });
    read(reader, 'a');
    expect(events).toEqual(['begin a', 'end a', 'begin b', 'end b']);
  });

  it('after stop delivers nothing more', () => {
    const reader = new DirectReader();
    const { socket } = fakeSocket();
    const got: string[] = [];
    reader.start(socket, (chunk) => got.push(String(chunk)));
    reader.stop();
    expect(read(reader, 'late')).toBe(false);
    expect(got).toEqual([]);
  });
});
