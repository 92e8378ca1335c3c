import { once } from 'node:events';
import { MessageStream } from '../../../functions/pop3/message-stream';

/** A stream as the session makes it, counting how often the consumer asks for more. */
function stream(highWaterMark = 64): { s: MessageStream; demands: () => number } {
  let demands = 0;
  const s = new MessageStream(7, () => (demands += 1), highWaterMark);
  return { s, demands: () => demands };
}

const chunk = (text: string) => Buffer.from(text, 'latin1');
const text = (parts: readonly Buffer[]) => Buffer.concat(parts).toString('latin1');

async function readRest(s: MessageStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of s) parts.push(part as Buffer);
  return text(parts);
}

describe('Class: MessageStream', () => {
  describe('collect', () => {
    it('takes a message delivered after the call, whole, and then ends the stream', async () => {
      const { s } = stream();
      const collected = s.collect(100);
      expect(s.deliver(chunk('Subject: a\r\n'))).toBe(true);
      expect(s.deliver(chunk('\r\nbody\r\n'))).toBe(true);
      s.finish();
      const got = await collected;
      expect(got).toMatchObject({ size: 20, ended: true });
      expect(text(got.parts)).toBe('Subject: a\r\n\r\nbody\r\n');
      await once(s, 'end');
      expect(s.bytesReceived).toBe(20);
    });

    it('takes chunks delivered before the call (and the end, if it came) in order', async () => {
      const { s } = stream();
      s.deliver(chunk('one '));
      s.deliver(chunk('two '));
      const collected = s.collect(100);
      s.deliver(chunk('three'));
      s.finish();
      expect(text((await collected).parts)).toBe('one two three');

      const early = stream().s;
      early.deliver(chunk('all of it'));
      early.finish();
      expect(await early.collect(100)).toMatchObject({ size: 9, ended: true });
    });

    it('stops at the limit: the bytes so far, and the rest through the stream', async () => {
      const { s } = stream();
      const collected = s.collect(10);
      s.deliver(chunk('0123456'));
      s.deliver(chunk('789abc')); // 13 octets: past the limit
      s.deliver(chunk('def'));
      s.finish();
      const got = await collected;
      expect(got).toMatchObject({ size: 13, ended: false });
      expect(text(got.parts)).toBe('0123456789abc');
      expect(await readRest(s)).toBe('def');
    });

    it('never hands over more than the limit as a complete message, even if all of it waited', async () => {
      const { s } = stream(1024);
      s.deliver(chunk('x'.repeat(30)));
      s.finish();
      const got = await s.collect(10);
      expect(got).toMatchObject({ size: 30, ended: false });
      expect(await readRest(s)).toBe('');
    });

    it('takes an empty message', async () => {
      const { s } = stream();
      const collected = s.collect(10);
      s.finish();
      expect(await collected).toEqual({ parts: [], size: 0, ended: true });
    });

    it('rejects with the error that destroys the stream while collecting', async () => {
      const { s } = stream();
      const collected = s.collect(100);
      s.deliver(chunk('partial'));
      s.destroy(Object.assign(new Error('connection lost'), { code: 'ECONNECTION' }));
      await expect(collected).rejects.toMatchObject({ code: 'ECONNECTION' });
    });

    it('rejects as an async iterator would when destroyed without an error, or already failed', async () => {
      const quiet = stream().s;
      const collected = quiet.collect(100);
      quiet.destroy();
      await expect(collected).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });

      const failed = stream().s;
      failed.destroy(new Error('ELIMIT'));
      await expect(failed.collect(100)).rejects.toThrow('ELIMIT');
    });

    it('refuses a second call, or a call after the stream was read', async () => {
      const { s } = stream();
      void s.collect(100);
      await expect(s.collect(100)).rejects.toThrow('already being read');

      const read = stream().s;
      read.deliver(chunk('abc'));
      read.finish();
      expect(await readRest(read)).toBe('abc');
      await expect(read.collect(100)).rejects.toThrow('already being read');
    });
  });

  describe('backpressure', () => {
    it('asks the session to pause once unread chunks reach the high-water mark', () => {
      const { s } = stream(10);
      expect(s.deliver(chunk('12345'))).toBe(true);
      expect(s.deliver(chunk('67890'))).toBe(false);
    });

    it('lets the session resume when collecting starts below the limit, and takes what follows', async () => {
      const { s, demands } = stream(10);
      s.deliver(chunk('1234567890'));
      const collected = s.collect(100);
      expect(demands()).toBe(1);
      expect(s.deliver(chunk('more'))).toBe(true);
      s.finish();
      expect(text((await collected).parts)).toBe('1234567890more');
    });
  });

  describe('as a Readable', () => {
    it('gives every chunk, delivered before or after reading starts, then ends', async () => {
      const { s } = stream(8);
      s.deliver(chunk('early '));
      const rest = readRest(s);
      s.deliver(chunk('late'));
      s.finish();
      expect(await rest).toBe('early late');
    });

    it('reads whole with toBuffer', async () => {
      const { s } = stream();
      s.deliver(chunk('a'));
      s.deliver(chunk('b'));
      s.finish();
      expect((await s.toBuffer()).toString()).toBe('ab');
    });
  });
});
